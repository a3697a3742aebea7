// The ACP's own services, rendered as plain objects: the namespaces, the OLM
// OperatorGroups and Subscriptions for OpenShift Virtualization (with its
// HyperConverged resource), OpenShift Pipelines and OpenShift GitOps, and the
// service accounts and RBAC the in-cluster pipeline runs with.
import { awaitAnnotations, type KubeObject, siteLabels } from "../../kube";

export const OPERATOR_NAMES = ["virtualization", "pipelines", "gitops"] as const;
export type OperatorName = (typeof OPERATOR_NAMES)[number];

interface OperatorSpec {
    /** The OLM package in the catalog. */
    package: string;
    /** Where the operator is installed. */
    namespace: string;
    /** Whether this program owns the namespace and its OperatorGroup (openshift-operators already has both). */
    ownNamespace: boolean;
    /** The OperatorGroup's targets: its own namespace, or all namespaces (undefined). */
    targetOwnNamespace: boolean;
    /** Channel names the package publishes. */
    channels: RegExp;
    channelHint: string;
    defaultChannel: string;
}

/** What Red Hat's operator catalog publishes for each service (package, namespace, channel names). */
export const OPERATORS: Record<OperatorName, OperatorSpec> = {
    virtualization: {
        package: "kubevirt-hyperconverged",
        namespace: "openshift-cnv",
        ownNamespace: true,
        targetOwnNamespace: true,
        channels: /^(stable|candidate|dev-preview)$/,
        channelHint: 'one of "stable", "candidate", "dev-preview"',
        defaultChannel: "stable",
    },
    pipelines: {
        package: "openshift-pipelines-operator-rh",
        namespace: "openshift-operators",
        ownNamespace: false,
        targetOwnNamespace: false,
        channels: /^(latest|pipelines-\d+\.\d+)$/,
        channelHint: '"latest" or "pipelines-<major>.<minor>" (e.g. "pipelines-1.18")',
        defaultChannel: "latest",
    },
    gitops: {
        package: "openshift-gitops-operator",
        namespace: "openshift-gitops-operator",
        ownNamespace: true,
        targetOwnNamespace: false,
        channels: /^(latest|gitops-\d+\.\d+)$/,
        channelHint: '"latest" or "gitops-<major>.<minor>" (e.g. "gitops-1.16")',
        defaultChannel: "latest",
    },
};

/** The ClusterRoles OpenShift Pipelines installs for EventListeners (Tekton Triggers). */
export const TRIGGER_CLUSTER_ROLES = { namespaced: "tekton-triggers-eventlistener-roles", cluster: "tekton-triggers-eventlistener-clusterroles" };

export interface AcpServicesInput {
    site: string;
    /** The namespace of this program's workloads: pipelines, builder VMs, VM templates. */
    namespace: string;
    operators: Record<OperatorName, { channel: string; installPlanApproval: "Automatic" | "Manual" }>;
    /** The OLM CatalogSource the Subscriptions install from. */
    catalogSource: { name: string; namespace: string };
    serviceAccounts: { pipeline: string; trigger: string };
    /** How long `up` waits for each operator to install and for HyperConverged to be available. */
    waitSeconds?: number;
}

export interface AcpServicesObjects {
    namespaces: KubeObject[];
    /** Per operator: its OperatorGroup (when this program owns its namespace) and Subscription. */
    operators: Record<OperatorName, { operatorGroup?: KubeObject; subscription: KubeObject }>;
    hyperConverged: KubeObject;
    /** Service accounts, Roles and bindings of the pipeline and its trigger. */
    rbac: KubeObject[];
}

export function renderAcpServices(input: AcpServicesInput): AcpServicesObjects {
    const labels = siteLabels(input.site, "acp-services");
    const ns = (name: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });

    const namespaces = [ns(input.namespace)];
    const operators = {} as AcpServicesObjects["operators"];
    for (const name of OPERATOR_NAMES) {
        const spec = OPERATORS[name];
        const { channel, installPlanApproval } = input.operators[name];
        let operatorGroup: KubeObject | undefined;
        if (spec.ownNamespace) {
            // The operator's namespace needs cluster monitoring for its metrics, as the product docs set it.
            namespaces.push({ ...ns(spec.namespace), metadata: { name: spec.namespace, labels: { ...labels, "openshift.io/cluster-monitoring": "true" } } });
            operatorGroup = {
                apiVersion: "operators.coreos.com/v1",
                kind: "OperatorGroup",
                metadata: { name: spec.package, namespace: spec.namespace, labels },
                spec: spec.targetOwnNamespace ? { targetNamespaces: [spec.namespace] } : {},
            };
        }
        const subscription: KubeObject = {
            apiVersion: "operators.coreos.com/v1alpha1",
            kind: "Subscription",
            // `up` waits until OLM has installed the operator (and with it its CRDs), so the
            // resources of those kinds that follow can be created. With Manual approval this
            // is when an administrator approves the InstallPlan.
            metadata: { name: spec.package, namespace: spec.namespace, labels, annotations: awaitAnnotations("jsonpath={.status.installedCSV}", input.waitSeconds) },
            spec: {
                name: spec.package,
                channel,
                installPlanApproval,
                source: input.catalogSource.name,
                sourceNamespace: input.catalogSource.namespace,
            },
        };
        operators[name] = { operatorGroup, subscription };
    }

    // The operand of OpenShift Virtualization: KubeVirt, CDI and friends. Defaults are the product's.
    const hyperConverged: KubeObject = {
        apiVersion: "hco.kubevirt.io/v1beta1",
        kind: "HyperConverged",
        // VMs and DataVolumes need KubeVirt and CDI up: wait until HCO reports them available.
        metadata: { name: "kubevirt-hyperconverged", namespace: OPERATORS.virtualization.namespace, labels, annotations: awaitAnnotations("condition=Available", input.waitSeconds) },
        spec: {},
    };

    const { pipeline, trigger } = input.serviceAccounts;
    const inNs = (name: string) => ({ name, namespace: input.namespace, labels });
    const subject = (name: string) => [{ kind: "ServiceAccount", name, namespace: input.namespace }];
    const rbac: KubeObject[] = [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: inNs(pipeline) },
        {
            // Test tasks boot each image in a VirtualMachineInstance and remove it afterwards.
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: inNs(pipeline),
            rules: [
                { apiGroups: ["kubevirt.io"], resources: ["virtualmachineinstances"], verbs: ["create", "get", "list", "watch", "delete"] },
            ],
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: inNs(pipeline),
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: pipeline },
            subjects: subject(pipeline),
        },
        {
            // buildah builds bootc images (which set file capabilities) and bootc-image-builder
            // makes disks with loop devices: both need the privileged SCC.
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: inNs(`${pipeline}-privileged`),
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:openshift:scc:privileged" },
            subjects: subject(pipeline),
        },
        { apiVersion: "v1", kind: "ServiceAccount", metadata: inNs(trigger) },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: inNs(trigger),
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: TRIGGER_CLUSTER_ROLES.namespaced },
            subjects: subject(trigger),
        },
        {
            // EventListeners read ClusterInterceptors and ClusterTriggerBindings, which are cluster-scoped.
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: `${input.namespace}-${trigger}`, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: TRIGGER_CLUSTER_ROLES.cluster },
            subjects: subject(trigger),
        },
    ];
    return { namespaces, operators, hyperConverged, rbac };
}
