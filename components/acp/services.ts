// AcpServices: the ACP's own services on the site's cluster (see render/services.ts).
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { declare, objectKey } from "../kube";
import { type AcpServicesInput, OPERATOR_NAMES, OPERATORS, type OperatorName, renderAcpServices } from "./render/services";

export interface AcpServicesArgs extends AcpServicesInput {
    provider: k8s.Provider;
}

export class AcpServices extends pulumi.ComponentResource {
    /** The namespace of this program's workloads. */
    readonly namespace: string;
    readonly workloadNamespace: pulumi.CustomResource;
    readonly subscriptions: Record<OperatorName, pulumi.CustomResource>;
    /** KubeVirt and CDI are served once this exists: VMs, DataVolumes and DataSources depend on it. */
    readonly hyperConverged: pulumi.CustomResource;
    /** The pipeline's and trigger's service accounts and bindings. */
    readonly rbac: pulumi.CustomResource[];

    constructor(name: string, args: AcpServicesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:acp:AcpServices", name, {}, opts);
        const { provider, ...input } = args;
        const objs = renderAcpServices(input);
        const base = { parent: this, provider };
        const namespaces = new Map(objs.namespaces.map((o) => [o.metadata.name, declare(o, base)]));
        this.namespace = input.namespace;
        this.workloadNamespace = namespaces.get(input.namespace)!;

        this.subscriptions = {} as Record<OperatorName, pulumi.CustomResource>;
        for (const op of OPERATOR_NAMES) {
            const { operatorGroup, subscription } = objs.operators[op];
            const ns = namespaces.get(OPERATORS[op].namespace);
            const group = operatorGroup && declare(operatorGroup, { ...base, dependsOn: ns ? [ns] : [] });
            this.subscriptions[op] = declare(subscription, { ...base, dependsOn: [ns, group].filter((r): r is pulumi.CustomResource => !!r) });
        }
        // The HyperConverged CRD is installed by the operator the Subscription brings.
        this.hyperConverged = declare(objs.hyperConverged, { ...base, dependsOn: [this.subscriptions.virtualization] });
        this.rbac = objs.rbac.map((o) => declare(o, { ...base, dependsOn: o.metadata.namespace ? [this.workloadNamespace] : [] }));
        this.registerOutputs({ namespace: this.namespace, objects: [...objs.namespaces, ...objs.rbac].map(objectKey) });
    }
}
