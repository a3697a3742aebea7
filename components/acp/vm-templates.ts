// VmTemplates: a DataVolume, a DataSource and an OpenShift Template per released
// disk image (see render/vm-templates.ts).
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { VmTemplateOutput } from "../contract";
import { declare } from "../kube";
import { renderVmTemplates, type VmTemplatesInput } from "./render/vm-templates";

export interface VmTemplatesArgs extends VmTemplatesInput {
    provider: k8s.Provider;
    /** What must exist first (the HyperConverged resource, the CDI registry secret). */
    dependsOn?: pulumi.Resource[];
}

/** One image's template, as the stack outputs report it. */

export class VmTemplates extends pulumi.ComponentResource {
    readonly templates: Record<string, VmTemplateOutput> = {};

    constructor(name: string, args: VmTemplatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:acp:VmTemplates", name, {}, opts);
        const { provider, dependsOn = [], ...input } = args;
        const base = { parent: this, provider };
        for (const t of renderVmTemplates(input)) {
            const dv = declare(t.dataVolume, { ...base, dependsOn });
            const ds = declare(t.dataSource, { ...base, dependsOn: [...dependsOn, dv] });
            declare(t.template, { ...base, dependsOn: [...dependsOn, ds] });
            this.templates[t.name] = {
                namespace: input.namespace,
                template: t.template.metadata.name,
                dataSource: t.dataSource.metadata.name,
                dataVolume: t.dataVolume.metadata.name,
                version: t.version,
                disk: t.diskRef,
            };
        }
        this.registerOutputs({ templates: this.templates });
    }
}
