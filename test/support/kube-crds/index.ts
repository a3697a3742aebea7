// The CustomResourceDefinitions of the kinds the ACP components declare, for
// the test cluster (scripts/services/kube.ts): OLM, HyperConverged, Tekton
// Pipelines and Triggers, OpenShift Route and ImageDigestMirrorSet come as the
// upstream projects publish them (upstream/, see README.md); KubeVirt, CDI and
// the OpenShift Template have no published CRD manifest (their operators or API
// servers serve them), so their CRDs are made here from the upstream OpenAPI
// definitions (KubeVirt's and CDI's swagger.json, the OpenShift spec that
// openshift-rest-client ships), which the API server then enforces.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { parseAllDocuments } from "yaml";
import type { KubeApi, KubeObjectJson, ResourceRef } from "../kube-api";
import { KubeApiError } from "../kube-api";

const UPSTREAM = path.join(__dirname, "upstream");

/** The upstream CRD manifests, as published (one or more documents per file). */
export const UPSTREAM_CRD_FILES = [
    "operators.coreos.com_subscriptions.yaml",
    "operators.coreos.com_operatorgroups.yaml",
    "operators.coreos.com_clusterserviceversions.yaml",
    "hco00.crd.yaml",
    "tekton-300-task.yaml",
    "tekton-300-pipeline.yaml",
    "tekton-300-pipelinerun.yaml",
    "triggers-300-triggerbinding.yaml",
    "triggers-300-triggertemplate.yaml",
    "triggers-300-eventlistener.yaml",
    "triggers-300-clusterinterceptor.yaml",
    "routes.crd.yaml",
    "imagedigestmirrorsets.crd.yaml",
];

type Schema = Record<string, any>;

/**
 * A structural schema (what a CRD's openAPIV3Schema must be) from an OpenAPI v2
 * definition: references inlined, descriptions and formats left out, the
 * apimachinery types mapped the way the API server reads them (Quantity and
 * IntOrString: int or string; ObjectMeta and RawExtension: objects kept whole).
 */
export function structuralSchema(name: string, definitions: Record<string, Schema>, seen: string[] = []): Schema {
    const short = name.split(".").pop()!;
    if (short === "Quantity" || short === "IntOrString") return { "x-kubernetes-int-or-string": true };
    if (short === "ObjectMeta" || short === "RawExtension") return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    if (short === "Time" || short === "MicroTime") return { type: "string" };
    if (seen.includes(name)) return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    const def = definitions[name];
    if (!def) throw new Error(`no OpenAPI definition ${name}`);
    return convert(def, definitions, [...seen, name]);
}

function convert(def: Schema, definitions: Record<string, Schema>, seen: string[]): Schema {
    if (def.$ref) return structuralSchema(String(def.$ref).replace(/^#\/definitions\//, ""), definitions, seen);
    if (def.allOf?.length === 1) return convert(def.allOf[0], definitions, seen);
    const out: Schema = {};
    let type = def.type ?? (def.properties || def.additionalProperties ? "object" : undefined);
    if (!type) return { "x-kubernetes-preserve-unknown-fields": true };
    // OpenAPI 3.1-style type lists (KubeVirt's swagger has them): "null" means nullable,
    // a string-or-number is what the API server calls int-or-string.
    if (Array.isArray(type)) {
        const types = type.filter((t: string) => t !== "null");
        if (types.length < type.length) out.nullable = true;
        if (types.length > 1)
            return types.every((t: string) => ["string", "integer", "number"].includes(t)) ? { ...out, "x-kubernetes-int-or-string": true } : { "x-kubernetes-preserve-unknown-fields": true };
        type = types[0];
    }
    out.type = type;
    if (def.enum) out.enum = def.enum;
    if (type === "array") out.items = def.items ? convert(def.items, definitions, seen) : { "x-kubernetes-preserve-unknown-fields": true };
    if (def.properties) out.properties = Object.fromEntries(Object.entries(def.properties).map(([k, v]) => [k, convert(v as Schema, definitions, seen)]));
    if (def.additionalProperties === true) out["x-kubernetes-preserve-unknown-fields"] = true;
    else if (def.additionalProperties) out.additionalProperties = convert(def.additionalProperties, definitions, seen);
    if (def.required?.length) out.required = def.required;
    return out;
}

interface GeneratedKind {
    group: string;
    version: string;
    kind: string;
    plural: string;
    shortNames?: string[];
    /** The OpenAPI definition and the spec it is in. */
    definition: string;
    spec: "kubevirt" | "cdi" | "openshift";
    status: boolean;
}

const GENERATED: GeneratedKind[] = [
    { group: "kubevirt.io", version: "v1", kind: "VirtualMachine", plural: "virtualmachines", shortNames: ["vm", "vms"], definition: "v1.VirtualMachine", spec: "kubevirt", status: true },
    {
        group: "kubevirt.io",
        version: "v1",
        kind: "VirtualMachineInstance",
        plural: "virtualmachineinstances",
        shortNames: ["vmi", "vmis"],
        definition: "v1.VirtualMachineInstance",
        spec: "kubevirt",
        status: true,
    },
    { group: "cdi.kubevirt.io", version: "v1beta1", kind: "DataVolume", plural: "datavolumes", shortNames: ["dv", "dvs"], definition: "v1beta1.DataVolume", spec: "cdi", status: true },
    { group: "cdi.kubevirt.io", version: "v1beta1", kind: "DataSource", plural: "datasources", shortNames: ["das"], definition: "v1beta1.DataSource", spec: "cdi", status: true },
    { group: "template.openshift.io", version: "v1", kind: "Template", plural: "templates", definition: "com.github.openshift.api.template.v1.Template", spec: "openshift", status: false },
];

function openapiDefinitions(spec: GeneratedKind["spec"]): Record<string, Schema> {
    if (spec === "openshift") {
        const file = path.resolve(__dirname, "../../../node_modules/openshift-rest-client/lib/specs/openshift-openapi-spec.json.gz");
        return JSON.parse(gunzipSync(readFileSync(file)).toString("utf8")).definitions;
    }
    return JSON.parse(readFileSync(path.join(UPSTREAM, `${spec}-swagger.json`), "utf8")).definitions;
}

function generatedCrd(k: GeneratedKind, definitions: Record<string, Schema>): KubeObjectJson {
    const schema = structuralSchema(k.definition, definitions);
    // The API server owns metadata's schema; status is written by controllers, never required of clients.
    schema.properties.metadata = { type: "object" };
    if (schema.required) schema.required = schema.required.filter((r: string) => r !== "status");
    return {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${k.plural}.${k.group}`, annotations: { "image-factory/schema-source": `${k.spec} OpenAPI ${k.definition}` } },
        spec: {
            group: k.group,
            scope: "Namespaced",
            names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.kind.toLowerCase(), ...(k.shortNames ? { shortNames: k.shortNames } : {}) },
            versions: [{ name: k.version, served: true, storage: true, schema: { openAPIV3Schema: schema }, ...(k.status ? { subresources: { status: {} } } : {}) }],
        },
    };
}

/**
 * Every CRD the test cluster gets. Upstream manifests are used as published, but
 * for one thing: a conversion webhook (Tekton's) needs the operator's webhook
 * service, which this cluster does not run, so conversion is "None" (objects are
 * read in the version they were written in).
 */
export function crdManifests(): KubeObjectJson[] {
    const crds: KubeObjectJson[] = [];
    for (const file of UPSTREAM_CRD_FILES) {
        for (const doc of parseAllDocuments(readFileSync(path.join(UPSTREAM, file), "utf8"))) {
            const obj = doc.toJS() as KubeObjectJson | null;
            if (obj?.kind !== "CustomResourceDefinition") continue;
            if (obj.spec.conversion?.strategy === "Webhook") obj.spec.conversion = { strategy: "None" };
            crds.push(obj);
        }
    }
    const defs = new Map<string, Record<string, Schema>>();
    for (const k of GENERATED) {
        if (!defs.has(k.spec)) defs.set(k.spec, openapiDefinitions(k.spec));
        crds.push(generatedCrd(k, defs.get(k.spec)!));
    }
    return crds;
}

export const CRD_REF: ResourceRef = { apiVersion: "apiextensions.k8s.io/v1", resource: "customresourcedefinitions", namespaced: false };

/** Creates the CRDs (those that exist are left alone) and waits until the API server serves them all. */
export async function installCrds(api: KubeApi, timeoutMs = 60_000): Promise<string[]> {
    const crds = crdManifests();
    for (const crd of crds) {
        try {
            await api.create(CRD_REF, crd);
        } catch (e) {
            if (!(e instanceof KubeApiError && e.status === 409)) throw new Error(`installing CRD ${crd.metadata.name}: ${(e as Error).message}`);
        }
    }
    const deadline = Date.now() + timeoutMs;
    for (const crd of crds) {
        for (;;) {
            const got = await api.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
            const established = got.status?.conditions?.find((c: any) => c.type === "Established")?.status === "True";
            if (established) break;
            if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} was not established in ${timeoutMs / 1000}s: ${JSON.stringify(got.status?.conditions ?? [])}`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
    return crds.map((c) => c.metadata.name);
}
