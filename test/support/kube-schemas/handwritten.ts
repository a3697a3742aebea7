// JSON schemas for the kinds whose published schemas cannot be had from the
// package registries these machines reach (npm, Debian, and a Go module proxy
// that is for Go modules only):
//
//   operators.coreos.com  Subscription, OperatorGroup   (OLM)
//   hco.kubevirt.io       HyperConverged                (OpenShift Virtualization)
//   config.openshift.io   ImageDigestMirrorSet          (OpenShift)
//   tekton.dev            Task, Pipeline, PipelineRun   (Tekton Pipelines v1)
//   triggers.tekton.dev   TriggerBinding, TriggerTemplate, EventListener (Tekton Triggers v1beta1)
//
// No npm package ships them (kubernetes-models has no OLM, HCO, OpenShift config
// or Tekton package; @kubernetes-models/tekton-pipelines is not published), and
// no Debian package carries them. Each schema below is written from the kind's
// upstream API reference (the Go types named in each comment), covering the
// fields, types, enums and required fields of the parts this program renders;
// objects are closed (additionalProperties: false) so a misspelt field fails.
import type { JSONSchemaType } from "ajv";

type Schema = Record<string, unknown>;
type AnySchema = Schema | JSONSchemaType<unknown>;

const str: Schema = { type: "string" };
const nonEmpty: Schema = { type: "string", minLength: 1 };
const bool: Schema = { type: "boolean" };
const int: Schema = { type: "integer" };
const strMap: Schema = { type: "object", additionalProperties: { type: "string" } };
const anyObject: Schema = { type: "object" };
const list = (items: AnySchema, minItems = 0): Schema => ({ type: "array", items, ...(minItems ? { minItems } : {}) });
const enumOf = (...values: string[]): Schema => ({ type: "string", enum: values });
/** A closed object: only these properties, these required. */
const obj = (properties: Record<string, AnySchema>, required: string[] = []): Schema => ({ type: "object", properties, required, additionalProperties: false });

// metav1.ObjectMeta, the parts a client sets.
const objectMeta = (nameRequired = true): Schema =>
    obj({ name: nonEmpty, generateName: str, namespace: str, labels: strMap, annotations: strMap }, nameRequired ? ["name"] : []);

/** A top-level kind: apiVersion and kind fixed, metadata, and the rest. */
const kind = (apiVersion: string, kindName: string, rest: Record<string, AnySchema>, required: string[], namespaced = true, nameRequired = true): Schema => {
    const meta = objectMeta(nameRequired) as { required: string[] };
    return obj(
        {
            apiVersion: { const: apiVersion },
            kind: { const: kindName },
            metadata: namespaced ? { ...meta, required: [...meta.required, "namespace"] } : meta,
            ...rest,
        },
        ["apiVersion", "kind", "metadata", ...required],
    );
};

// --- OLM: github.com/operator-framework/api pkg/operators/v1alpha1 SubscriptionSpec, v1 OperatorGroupSpec
const subscription = kind(
    "operators.coreos.com/v1alpha1",
    "Subscription",
    {
        spec: obj(
            {
                source: nonEmpty, // CatalogSource
                sourceNamespace: nonEmpty, // CatalogSourceNamespace
                name: nonEmpty, // Package
                channel: str,
                startingCSV: str,
                installPlanApproval: enumOf("Automatic", "Manual"),
                config: anyObject, // SubscriptionConfig (not rendered)
            },
            ["source", "sourceNamespace", "name"],
        ),
    },
    ["spec"],
);
const operatorGroup = kind(
    "operators.coreos.com/v1",
    "OperatorGroup",
    {
        spec: obj({
            selector: anyObject,
            targetNamespaces: list(nonEmpty),
            serviceAccountName: str,
            staticProvidedAPIs: bool,
            upgradeStrategy: obj({ name: enumOf("Default", "TechPreviewUnsafeFailForward") }, ["name"]),
        }),
    },
    [],
);

// --- HCO: github.com/kubevirt/hyperconverged-cluster-operator api/v1beta1 HyperConvergedSpec (top-level fields).
// This program renders an empty spec (the product defaults); the schema lists the
// spec's top-level fields so that anything else is refused.
const hyperConverged = kind(
    "hco.kubevirt.io/v1beta1",
    "HyperConverged",
    {
        spec: obj(
            Object.fromEntries(
                [
                    "localStorageClassName", "tuningPolicy", "infra", "workloads", "featureGates", "liveMigrationConfig", "permittedHostDevices",
                    "mediatedDevicesConfiguration", "certConfig", "resourceRequirements", "scratchSpaceStorageClass", "vddkInitImage", "defaultCPUModel",
                    "obsoleteCPUs", "commonTemplatesNamespace", "storageImport", "workloadUpdateStrategy", "dataImportCronTemplates",
                    "filesystemOverhead", "uninstallStrategy", "logVerbosityConfig", "tlsSecurityProfile", "tektonPipelinesNamespace", "kubeSecondaryDNSNameServerIP",
                    "kubeMacPoolConfiguration", "evictionStrategy", "vmStateStorageClass", "virtualMachineOptions", "commonBootImageNamespace", "ksmConfiguration",
                    "networkBinding", "applicationAwareConfig", "higherWorkloadDensity", "enableCommonBootImageImport", "deployVmConsoleProxy",
                    "enableApplicationAwareQuota", "commonInstancetypesDeployment", "instancetypeConfig",
                ].map((k) => [k, {}]),
            ),
        ),
    },
    [],
);

// --- OpenShift: github.com/openshift/api config/v1 ImageDigestMirrorSetSpec, ImageDigestMirrors
const imageRef = { type: "string", pattern: "^\\*(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+$|^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?)(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$" };
const imageDigestMirrorSet = kind(
    "config.openshift.io/v1",
    "ImageDigestMirrorSet",
    {
        spec: obj({
            imageDigestMirrors: list(
                obj(
                    {
                        source: imageRef,
                        mirrors: { ...list(imageRef), uniqueItems: true },
                        mirrorSourcePolicy: enumOf("NeverContactSource", "AllowContactingSource"),
                    },
                    ["source"],
                ),
            ),
        }),
    },
    ["spec"],
    false,
);

// --- Tekton Pipelines v1: github.com/tektoncd/pipeline pkg/apis/pipeline/v1 (TaskSpec, PipelineSpec, PipelineRunSpec).
const dnsLabel = { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 };
const paramValue = { anyOf: [str, list(str), strMap] }; // ParamValue: string, array or object
const paramSpec = obj(
    { name: nonEmpty, type: enumOf("string", "array", "object"), description: str, default: paramValue, properties: anyObject, enum: list(str) },
    ["name"],
);
const param = obj({ name: nonEmpty, value: paramValue }, ["name", "value"]);
const envVar = obj({ name: nonEmpty, value: str, valueFrom: anyObject }, ["name"]);
const volumeMount = obj({ name: nonEmpty, mountPath: nonEmpty, readOnly: bool, subPath: str }, ["name", "mountPath"]);
const step = obj(
    {
        name: dnsLabel,
        image: nonEmpty,
        command: list(str),
        args: list(str),
        script: str,
        workingDir: str,
        env: list(envVar),
        volumeMounts: list(volumeMount),
        securityContext: anyObject, // corev1.SecurityContext
        computeResources: anyObject, // corev1.ResourceRequirements
        onError: enumOf("continue", "stopAndFail"),
        timeout: str,
    },
    ["name", "image"],
);
const taskResult = obj({ name: nonEmpty, type: enumOf("string", "array", "object"), description: str, properties: anyObject }, ["name"]);
const workspaceDecl = obj({ name: nonEmpty, description: str, mountPath: str, readOnly: bool, optional: bool }, ["name"]);
const task = kind(
    "tekton.dev/v1",
    "Task",
    {
        spec: obj(
            {
                description: str,
                displayName: str,
                params: list(paramSpec),
                workspaces: list(workspaceDecl),
                results: list(taskResult),
                steps: list(step, 1),
                volumes: list(anyObject), // corev1.Volume
                stepTemplate: anyObject,
                sidecars: list(anyObject),
            },
            ["steps"],
        ),
    },
    ["spec"],
);
const whenExpression = obj({ input: str, operator: enumOf("in", "notin"), values: list(str), cel: str });
const pipelineTask = obj(
    {
        name: dnsLabel,
        displayName: str,
        description: str,
        taskRef: obj({ name: nonEmpty, kind: enumOf("Task", "ClusterTask"), apiVersion: str }, ["name"]),
        params: list(param),
        runAfter: list(nonEmpty),
        when: list(whenExpression),
        workspaces: list(obj({ name: nonEmpty, workspace: nonEmpty, subPath: str }, ["name"])),
        retries: int,
        timeout: str,
    },
    ["name", "taskRef"],
);
const pipeline = kind(
    "tekton.dev/v1",
    "Pipeline",
    {
        spec: obj(
            {
                description: str,
                displayName: str,
                params: list(paramSpec),
                workspaces: list(obj({ name: nonEmpty, description: str, optional: bool }, ["name"])),
                tasks: list(pipelineTask, 1),
                finally: list(pipelineTask),
                results: list(obj({ name: nonEmpty, type: str, description: str, value: paramValue }, ["name", "value"])),
            },
            ["tasks"],
        ),
    },
    ["spec"],
);
const workspaceBinding = obj(
    {
        name: nonEmpty,
        subPath: str,
        emptyDir: anyObject,
        secret: obj({ secretName: nonEmpty, items: list(anyObject), optional: bool, defaultMode: int }, ["secretName"]),
        configMap: anyObject,
        persistentVolumeClaim: anyObject,
        volumeClaimTemplate: obj({ metadata: anyObject, spec: anyObject }, ["spec"]),
    },
    ["name"],
);
const pipelineRunSpec = obj(
    {
        pipelineRef: obj({ name: nonEmpty }, ["name"]),
        params: list(param),
        taskRunTemplate: obj({ serviceAccountName: str, podTemplate: anyObject }),
        workspaces: list(workspaceBinding),
        timeouts: anyObject,
        status: str,
    },
    ["pipelineRef"],
);
// A PipelineRun is either named (made by `pulumi up`) or generateName'd (made by the trigger).
const pipelineRun = kind("tekton.dev/v1", "PipelineRun", { spec: pipelineRunSpec }, ["spec"], true, false);

// --- Tekton Triggers v1beta1: github.com/tektoncd/triggers pkg/apis/triggers/v1beta1 (TriggerBindingSpec, TriggerTemplateSpec, EventListenerSpec).
const triggerBinding = kind("triggers.tekton.dev/v1beta1", "TriggerBinding", { spec: obj({ params: list(obj({ name: nonEmpty, value: str }, ["name", "value"])) }) }, []);
const triggerTemplate = kind(
    "triggers.tekton.dev/v1beta1",
    "TriggerTemplate",
    {
        spec: obj(
            {
                params: list(obj({ name: nonEmpty, description: str, default: str }, ["name"])),
                resourcetemplates: list(obj({ apiVersion: nonEmpty, kind: nonEmpty, metadata: anyObject }, ["apiVersion", "kind"]) as Schema & { additionalProperties: boolean }, 1),
            },
            ["resourcetemplates"],
        ),
    },
    [],
);
// resourcetemplates are whole objects (runtime.RawExtension): open beyond apiVersion/kind/metadata,
// and validated on their own as the kind they are (see index.ts).
((triggerTemplate as any).properties.spec.properties.resourcetemplates.items as Schema).additionalProperties = true;

const interceptor = obj(
    {
        name: str,
        ref: obj({ name: nonEmpty, kind: enumOf("ClusterInterceptor", "NamespacedInterceptor"), apiVersion: str }, ["name"]),
        params: list(obj({ name: nonEmpty, value: {} }, ["name", "value"])),
    },
    ["ref"],
);
const eventListener = kind(
    "triggers.tekton.dev/v1beta1",
    "EventListener",
    {
        spec: obj(
            {
                serviceAccountName: str,
                triggers: list(
                    obj(
                        {
                            name: str,
                            interceptors: list(interceptor),
                            bindings: list(obj({ ref: str, kind: enumOf("TriggerBinding", "ClusterTriggerBinding"), name: str, value: str, apiversion: str })),
                            template: obj({ ref: nonEmpty, apiversion: str }, ["ref"]),
                            triggerRef: str,
                        },
                        [],
                    ),
                ),
                namespaceSelector: anyObject,
                labelSelector: anyObject,
                resources: anyObject,
                cloudEventURI: str,
            },
            [],
        ),
    },
    ["spec"],
);

/** The hand-written schemas by "<apiVersion>/<kind>", each with the upstream reference it follows. */
export const HANDWRITTEN: Record<string, { schema: Schema; reference: string }> = {
    "operators.coreos.com/v1alpha1/Subscription": { schema: subscription, reference: "operator-framework/api pkg/operators/v1alpha1 SubscriptionSpec" },
    "operators.coreos.com/v1/OperatorGroup": { schema: operatorGroup, reference: "operator-framework/api pkg/operators/v1 OperatorGroupSpec" },
    "hco.kubevirt.io/v1beta1/HyperConverged": { schema: hyperConverged, reference: "kubevirt/hyperconverged-cluster-operator api/v1beta1 HyperConvergedSpec" },
    "config.openshift.io/v1/ImageDigestMirrorSet": { schema: imageDigestMirrorSet, reference: "openshift/api config/v1 ImageDigestMirrorSetSpec" },
    "tekton.dev/v1/Task": { schema: task, reference: "tektoncd/pipeline pkg/apis/pipeline/v1 TaskSpec" },
    "tekton.dev/v1/Pipeline": { schema: pipeline, reference: "tektoncd/pipeline pkg/apis/pipeline/v1 PipelineSpec" },
    "tekton.dev/v1/PipelineRun": { schema: pipelineRun, reference: "tektoncd/pipeline pkg/apis/pipeline/v1 PipelineRunSpec" },
    "triggers.tekton.dev/v1beta1/TriggerBinding": { schema: triggerBinding, reference: "tektoncd/triggers pkg/apis/triggers/v1beta1 TriggerBindingSpec" },
    "triggers.tekton.dev/v1beta1/TriggerTemplate": { schema: triggerTemplate, reference: "tektoncd/triggers pkg/apis/triggers/v1beta1 TriggerTemplateSpec" },
    "triggers.tekton.dev/v1beta1/EventListener": { schema: eventListener, reference: "tektoncd/triggers pkg/apis/triggers/v1beta1 EventListenerSpec" },
};
