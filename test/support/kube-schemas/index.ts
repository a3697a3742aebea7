// Validates rendered Kubernetes objects against their upstream schemas, each
// obtained from a package registry by package name (see SCHEMA_SOURCES):
//
//   core kinds          kubernetes-models (the Kubernetes OpenAPI schemas, compiled validators)
//   Route, Template     openshift-rest-client's OpenShift OpenAPI spec (lib/specs/openshift-openapi-spec.json.gz)
//   KubeVirt, CDI       @kubevirt-ui-ext/kubevirt-api: TypeScript models generated from KubeVirt's and
//                       CDI's OpenAPI specs, turned into JSON schema by ts-json-schema-generator
//   the rest            hand-written from the upstream API reference (handwritten.ts says why)
//
// Objects embedded in others (a Template's objects, a TriggerTemplate's
// resourcetemplates) are validated as their own kinds too.
import Ajv, { type ValidateFunction } from "ajv";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { createGenerator } from "ts-json-schema-generator";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { KubeObject } from "../../../components/kube";
import { HANDWRITTEN } from "./handwritten";

const req = createRequire(__filename);
// Some packages do not export their package.json: read it from the folder.
const packageDir = (pkg: string) => path.resolve(__dirname, "../../../node_modules", pkg);
const version = (pkg: string) => `${pkg}@${JSON.parse(readFileSync(path.join(packageDir(pkg), "package.json"), "utf8")).version}`;

type Check = (obj: KubeObject) => string[];

// --- core kinds: kubernetes-models' validators
const CORE: Record<string, new (data: any) => { validate(): void }> = {
    "v1/Namespace": Namespace,
    "v1/ServiceAccount": ServiceAccount,
    "v1/Service": Service,
    "v1/Secret": Secret,
    "v1/ConfigMap": ConfigMap,
    "v1/PersistentVolumeClaim": PersistentVolumeClaim,
    "apps/v1/Deployment": Deployment,
    "rbac.authorization.k8s.io/v1/Role": Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
    "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
};
const coreCheck =
    (Model: new (data: any) => { validate(): void }): Check =>
    (obj) => {
        try {
            new Model(obj).validate();
            return [];
        } catch (e) {
            return [(e as Error).message];
        }
    };

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const ajvCheck =
    (validate: ValidateFunction): Check =>
    (obj) =>
        validate(obj) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && "allowedValues" in e.params ? ` (${(e.params as any).allowedValues.join(", ")})` : ""}${e.params && "additionalProperty" in e.params ? `: ${(e.params as any).additionalProperty}` : ""}`);

// --- OpenShift Route and Template: the OpenShift OpenAPI (swagger 2.0) definitions.
function openshiftChecks(): Record<string, Check> {
    const file = path.join(packageDir("openshift-rest-client"), "lib/specs/openshift-openapi-spec.json.gz");
    const spec = JSON.parse(gunzipSync(readFileSync(file)).toString("utf8"));
    const definitions = spec.definitions as Record<string, any>;
    // Three corrections to this spec's generator artefacts, as the API server reads objects:
    // IntOrString is an integer or a string; RawExtension is the embedded object itself
    // (the spec's "Raw" is its Go field); a Route's status is written by the server, not sent.
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = { anyOf: [{ type: "integer" }, { type: "string" }] };
    definitions["io.k8s.apimachinery.pkg.runtime.RawExtension"] = { type: "object" };
    const route = definitions["com.github.openshift.api.route.v1.Route"];
    route.required = route.required.filter((r: string) => r !== "status");
    const root = { $id: "openshift", definitions };
    ajv.addSchema(root);
    const check = (def: string) => ajvCheck(ajv.compile({ $ref: `openshift#/definitions/${def}` }));
    return {
        "route.openshift.io/v1/Route": check("com.github.openshift.api.route.v1.Route"),
        "template.openshift.io/v1/Template": check("com.github.openshift.api.template.v1.Template"),
    };
}

// --- KubeVirt and CDI: JSON schema from kubevirt-api's generated models; objects are closed
// (additionalProperties: false), so a field KubeVirt does not know fails.
function kubevirtChecks(): Record<string, Check> {
    // Generating takes seconds (TypeScript parses megabytes of declarations), so the schemas
    // are kept in node_modules/.cache, keyed by both packages' versions.
    const cacheDir = path.join(packageDir(".cache"), "image-factory-kube-schemas", `${version("@kubevirt-ui-ext/kubevirt-api")}-${version("ts-json-schema-generator")}`.replace(/[/@]/g, "_"));
    const schemasOf = (sub: string, types: string[]): Record<string, object> => {
        const file = path.join(cacheDir, `${sub}.json`);
        if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
        const dts = req.resolve(`@kubevirt-ui-ext/kubevirt-api/${sub}`).replace(/\.c?js$/, ".d.cts");
        const generator = createGenerator({ path: dts, type: "*", skipTypeCheck: true, expose: "all", topRef: false, additionalProperties: false, jsDoc: "none" });
        const schemas = Object.fromEntries(types.map((t) => [t, generator.createSchema(t)]));
        mkdirSync(cacheDir, { recursive: true });
        writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(schemas));
        renameSync(`${file}.${process.pid}.tmp`, file);
        return schemas;
    };
    const kubevirt = schemasOf("kubevirt", ["V1VirtualMachine"]);
    const cdi = schemasOf("containerized-data-importer", ["V1beta1DataVolume", "V1beta1DataSource"]);
    return {
        "kubevirt.io/v1/VirtualMachine": ajvCheck(ajv.compile(kubevirt.V1VirtualMachine)),
        "cdi.kubevirt.io/v1beta1/DataVolume": ajvCheck(ajv.compile(cdi.V1beta1DataVolume)),
        "cdi.kubevirt.io/v1beta1/DataSource": ajvCheck(ajv.compile(cdi.V1beta1DataSource)),
    };
}

/** Which package (name@version) or reference each kind is validated against. */
export const SCHEMA_SOURCES: Record<string, string> = {
    ...Object.fromEntries(Object.keys(CORE).map((k) => [k, version("kubernetes-models")])),
    "route.openshift.io/v1/Route": `${version("openshift-rest-client")} lib/specs/openshift-openapi-spec.json.gz`,
    "template.openshift.io/v1/Template": `${version("openshift-rest-client")} lib/specs/openshift-openapi-spec.json.gz`,
    "kubevirt.io/v1/VirtualMachine": `${version("@kubevirt-ui-ext/kubevirt-api")} kubevirt (via ${version("ts-json-schema-generator")})`,
    "cdi.kubevirt.io/v1beta1/DataVolume": `${version("@kubevirt-ui-ext/kubevirt-api")} containerized-data-importer (via ${version("ts-json-schema-generator")})`,
    "cdi.kubevirt.io/v1beta1/DataSource": `${version("@kubevirt-ui-ext/kubevirt-api")} containerized-data-importer (via ${version("ts-json-schema-generator")})`,
    ...Object.fromEntries(Object.entries(HANDWRITTEN).map(([k, v]) => [k, `hand-written from ${v.reference}`])),
};

let checks: Record<string, Check> | undefined;
function allChecks(): Record<string, Check> {
    checks ??= {
        ...Object.fromEntries(Object.entries(CORE).map(([k, Model]) => [k, coreCheck(Model)])),
        ...openshiftChecks(),
        ...kubevirtChecks(),
        ...Object.fromEntries(Object.entries(HANDWRITTEN).map(([k, v]) => [k, ajvCheck(ajv.compile(v.schema))])),
    };
    return checks;
}

/** The problems of an object (and of the objects embedded in it), each prefixed with "<kind> <name>:". [] when valid. */
export function validateObject(obj: KubeObject): string[] {
    const key = `${obj.apiVersion}/${obj.kind}`;
    const check = allChecks()[key];
    const label = `${obj.kind} ${obj.metadata?.name ?? obj.metadata?.generateName ?? "?"}`;
    if (!check) return [`${label}: no schema for ${key}`];
    const problems = check(obj).map((p) => `${label}: ${p}`);
    // Whatever the schema says of apiVersion and kind, they must be exactly these.
    if (typeof obj.metadata?.name !== "string" && typeof (obj.metadata as any)?.generateName !== "string") problems.push(`${label}: metadata.name is required`);
    const embedded = obj.kind === "Template" ? (obj.objects as KubeObject[]) : obj.kind === "TriggerTemplate" ? ((obj.spec as any).resourcetemplates as KubeObject[]) : [];
    for (const inner of embedded ?? []) problems.push(...validateObject(inner));
    return problems;
}
