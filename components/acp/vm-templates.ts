// VmTemplates: a DataVolume, a DataSource and an OpenShift Template per released
// disk image (see render/vm-templates.ts).
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { VmTemplateOutput } from "../contract";
import { declare, type KubeObject } from "../kube";
import { type ReleasedDisk, renderVmTemplates, type VmTemplatesInput } from "./render/vm-templates";

export interface VmTemplatesArgs extends Omit<VmTemplatesInput, "disks"> {
    /** The released disks; a ref is known once its container disk is pushed. */
    disks: ReleasedDisk<pulumi.Input<string>>[];
    provider: k8s.Provider;
    /** What must exist first (the HyperConverged resource, the CDI registry secret). */
    dependsOn?: pulumi.Resource[];
}

// A disk's ref is not known while its container disk is still to be pushed: each
// object is rendered with this marker in its place, and the fields holding it are
// sent as Outputs of the ref (names never hold it, so the resources are known at once).
const PENDING_REF = `image-factory.invalid/pending-disk@sha256:${"0".repeat(64)}`;

function withRef(value: unknown, ref: pulumi.Output<string>): unknown {
    if (typeof value === "string") return value.includes(PENDING_REF) ? ref.apply((r) => value.split(PENDING_REF).join(r)) : value;
    if (Array.isArray(value)) return value.map((v) => withRef(v, ref));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withRef(v, ref)]));
    return value;
}

/** The object's top-level fields that hold the ref, as Inputs for declare(). */
const refFields = (obj: KubeObject, ref: pulumi.Output<string>) => Object.fromEntries(Object.entries(obj).flatMap(([k, v]) => (JSON.stringify(v).includes(PENDING_REF) ? [[k, withRef(v, ref)]] : [])));

export class VmTemplates extends pulumi.ComponentResource {
    /** One image's template, as the stack outputs report it. */
    readonly templates: Record<string, pulumi.Output<VmTemplateOutput>> = {};

    constructor(name: string, args: VmTemplatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:acp:VmTemplates", name, {}, opts);
        const { provider, dependsOn = [], disks, ...input } = args;
        const base = { parent: this, provider };
        for (const disk of disks) {
            const ref = pulumi.output(disk.diskRef);
            const [t] = renderVmTemplates({ ...input, disks: [{ ...disk, diskRef: PENDING_REF }] });
            // CDI does not change a DataVolume's source in place: a new disk under the same
            // version is a new DataVolume (deleted first, as it keeps its name).
            const dv = declare(t.dataVolume, { ...base, dependsOn, replaceOnChanges: ["spec"], deleteBeforeReplace: true }, refFields(t.dataVolume, ref));
            const ds = declare(t.dataSource, { ...base, dependsOn: [...dependsOn, dv] }, refFields(t.dataSource, ref));
            declare(t.template, { ...base, dependsOn: [...dependsOn, ds] }, refFields(t.template, ref));
            this.templates[t.name] = ref.apply((diskRef) => ({
                namespace: input.namespace,
                template: t.template.metadata.name,
                dataSource: t.dataSource.metadata.name,
                dataVolume: t.dataVolume.metadata.name,
                version: t.version,
                disk: diskRef,
            }));
        }
        this.registerOutputs({ templates: this.templates });
    }
}
