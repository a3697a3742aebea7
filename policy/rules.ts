// The guardrails a preview enforces. Each rule is a plain validation function,
// unit-tested with a violating and a passing resource (policy/rules.test.ts);
// policy/index.ts puts them in the policy pack the engine runs.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { parse } from "yaml";
import { isLoopback, RegistryClient } from "../components/registry/client";
import { VerificationError, verifyImageSignature } from "../components/supply-chain/attachments";

const DIGEST_REF = /@sha256:[a-f0-9]{64}$/;
const DYNAMIC = "pulumi-nodejs:dynamic/image-factory:";

/** A value that is known (preview passes not-yet-known outputs as a sentinel or leaves them out). */
const known = (v: unknown): v is string => typeof v === "string" && v !== unknownValue && v !== "";

/**
 * props[path], or undefined while it is not known: @pulumi/policy throws when a
 * rule reads a value that can't be known during preview, and a value not known
 * yet is checked on `up`, when it is.
 */
function at(props: Record<string, any>, dotted: string): any {
    try {
        return dotted.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), props as any);
    } catch {
        return undefined;
    }
}

/** Released images are referenced by digest wherever this program hands them on. */
export const releasedImagesByDigest: ResourceValidationPolicy = {
    name: "released-images-by-digest",
    description: "Released images are referenced by digest (…@sha256:…), never by a tag that can move.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const p = args.props;
        const refs: Array<[string, unknown]> = [];
        if (args.type === `${DYNAMIC}ImageBuild`) refs.push(["parentRef", at(p, "parentRef")]);
        if (args.type === `${DYNAMIC}ImageTest` || args.type === `${DYNAMIC}BootArtifacts`) refs.push(["ref", at(p, "ref")]);
        if (args.type === "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume") refs.push(["spec.source.registry.url", at(p, "spec.source.registry.url")]);
        for (const [key, ref] of refs) {
            if (known(ref) && !DIGEST_REF.test(ref)) report(`${key} must reference the image by digest (…@sha256:<64 hex>), not ${JSON.stringify(ref)}`);
        }
        if (args.type === `${DYNAMIC}ImageRelease` || args.type === `${DYNAMIC}RegistryMirror`) {
            const digest = at(p, "digest");
            if (known(digest) && !/^sha256:[a-f0-9]{64}$/.test(digest)) report(`digest must be a sha256 digest, not ${JSON.stringify(digest)}`);
        }
    },
};

/**
 * Every released image is signed by the fleet key: a release verifies the
 * signature before it moves a tag, and a digest already known at preview (a
 * pin, or an image pushed by hand) must carry one now.
 */
export const releasedImagesSigned: ResourceValidationPolicy = {
    name: "released-images-signed",
    description: "Released images carry a signature by the fleet key (image-factory:signing); an unsigned image is never released (a loopback registry without a key excepted).",
    enforcementLevel: "mandatory",
    validateResource: async (args, report) => {
        if (args.type !== `${DYNAMIC}ImageRelease`) return;
        const p = args.props;
        const publicKey = at(p, "publicKey");
        if (!known(publicKey)) {
            // A developer's own loopback registry may go unsigned (like plain HTTP there); every other one may not.
            if (isLoopback(String(at(p, "registry") ?? ""))) return;
            report("releases images without verifying their signature: set image-factory:signing.publicKey and the secret signingKey (the fleet key)");
            return;
        }
        const [registry, repository, digest] = [at(p, "registry"), at(p, "repository"), at(p, "digest")];
        if (!known(registry) || !known(repository) || !known(digest) || !isLoopback(registry)) return; // checked by the release on `up`
        try {
            await verifyImageSignature(new RegistryClient(registry, { timeoutMs: 20_000 }), repository, digest, publicKey);
        } catch (e) {
            // A registry that cannot be asked (down, credentials) is the release's to refuse on `up`.
            if (e instanceof VerificationError) report(`${e.message}; it cannot be released`);
        }
    },
};

const PUBLIC_ACLS = new Set(["public-read", "public-read-write", "authenticated-read"]);

function publicStatements(policy: unknown): number {
    let doc: { Statement?: unknown } = {};
    try {
        doc = typeof policy === "string" ? JSON.parse(policy) : (policy as object) ?? {};
    } catch {
        return 0;
    }
    const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
    return statements.filter((s: { Effect?: string; Principal?: unknown }) => {
        const pr = s.Principal as string | { AWS?: unknown } | undefined;
        const anyone = pr === "*" || (typeof pr === "object" && pr !== null && (pr.AWS === "*" || (Array.isArray(pr.AWS) && pr.AWS.includes("*"))));
        return s.Effect === "Allow" && anyone;
    }).length;
}

/** Buckets are never public: every block flag on, no public ACL, no policy that allows anyone. */
export const bucketsNeverPublic: ResourceValidationPolicy = {
    name: "buckets-never-public",
    description: "Artifact buckets are never public: public access blocked, no public ACLs or policies.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const p = args.props;
        if (args.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") {
            for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
                const v = at(p, flag);
                if (v !== undefined && v !== true) report(`${flag} must be true`);
            }
        }
        const acl = at(p, "acl");
        if ((args.type === "aws:s3/bucket:Bucket" || args.type === "aws:s3/bucketAcl:BucketAcl") && PUBLIC_ACLS.has(acl)) {
            report(`acl ${JSON.stringify(acl)} makes the bucket public`);
        }
        if (args.type === "aws:s3/bucketPolicy:BucketPolicy" && publicStatements(at(p, "policy")) > 0) {
            report("the bucket policy allows anyone (Principal \"*\")");
        }
    },
};

/** Every aws bucket has its public access block (a stack-level check). */
export const everyBucketBlocked: StackValidationPolicy = {
    name: "every-bucket-has-a-public-access-block",
    description: "Each S3 bucket made with @pulumi/aws has a BucketPublicAccessBlock.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const blocked = new Set(args.resources.filter((r) => r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").map((r) => at(r.props, "bucket")));
        for (const b of args.resources.filter((r) => r.type === "aws:s3/bucket:Bucket")) {
            const id = at(b.props, "bucket") ?? at(b.props, "id");
            if (known(id) && !blocked.has(id)) report(`bucket ${id} has no BucketPublicAccessBlock`, b.urn);
        }
    },
};

/** Builder VMs declare CPU and memory limits, so a compose cannot starve the cluster. */
export const builderVmLimits: ResourceValidationPolicy = {
    name: "builder-vm-resource-limits",
    description: "KubeVirt VirtualMachines (builder VMs) set CPU and memory limits.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== "kubernetes:kubevirt.io/v1:VirtualMachine") return;
        const limits = at(args.props, "spec.template.spec.domain.resources.limits") ?? {};
        for (const r of ["cpu", "memory"]) if (limits[r] === undefined) report(`spec.template.spec.domain.resources.limits.${r} must be set`);
    },
};

/** Registries and object stores are spoken to over TLS, except on loopback. */
export const tlsExceptLoopback: ResourceValidationPolicy = {
    name: "tls-except-loopback",
    description: "Registries and S3 endpoints use TLS, except on loopback; registry Routes terminate TLS.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const p = args.props;
        const endpoints: Array<[string, unknown]> = [];
        if (args.type.startsWith(DYNAMIC)) endpoints.push(["s3.endpoint", at(p, "s3.endpoint")]);
        if (args.type === "pulumi:providers:aws") for (let i = 0; i < (at(p, "endpoints") ?? []).length; i++) endpoints.push([`endpoints[${i}].s3`, at(p, `endpoints.${i}.s3`)]);
        for (const [key, url] of endpoints) {
            const m = known(url) ? /^http:\/\/([^/]+)/.exec(url) : null;
            if (m && !isLoopback(m[1])) report(`${key} ${url} is plain HTTP to ${m[1]}; use https:// (plain HTTP is for loopback only)`);
        }
        if (args.type.startsWith(DYNAMIC)) {
            for (const key of ["registry", "sourceRegistry"]) {
                const v = at(p, key);
                if (known(v) && /^http:\/\//.test(v)) report(`${key} ${v}: registries are named host[:port]; TLS is used except on loopback`);
            }
        }
        if (args.type === "kubernetes:route.openshift.io/v1:Route" && at(p, "spec") !== undefined && !at(p, "spec.tls.termination")) {
            report("the Route must terminate TLS (spec.tls.termination)");
        }
    },
};

// Keys whose values are secrets by their name, and values that are secrets by their look.
const SECRET_KEY = /(password|passwd|secret|token|private_?key|privatekey|access_?key|accesskey|api_?key|kubeconfig|credential)/i;
const PUBLIC_KEY = /(public_?key|sshkeys?$|username)/i;
const SECRET_VALUE: Array<[RegExp, string]> = [
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
    [/\bAKIA[0-9A-Z]{16}\b/, "an AWS access key id"],
    [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/, "a GitHub token"],
    [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./, "a JSON web token"],
    [/(client-key-data|client-certificate-data|token):\s*\S{20,}/, "kubeconfig credentials"],
];

/** Problems in a stack file's `config:`: secret-looking values stored in plain text (pure). */
export function plainSecrets(file: string, text: string): string[] {
    const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
    const found: string[] = [];
    const walk = (key: string, v: unknown): void => {
        if (v && typeof v === "object" && !Array.isArray(v)) {
            if ("secure" in (v as object) && Object.keys(v as object).length === 1) return; // encrypted
            for (const [k, inner] of Object.entries(v as object)) walk(`${key}.${k}`, inner);
            return;
        }
        if (Array.isArray(v)) {
            for (const [i, inner] of v.entries()) walk(`${key}[${i}]`, inner);
            return;
        }
        if (typeof v !== "string" || v === "") return;
        const leaf = key.split(/[.:[\]]/).filter(Boolean).pop() ?? key;
        const looks = SECRET_VALUE.find(([re]) => re.test(v));
        if (looks) found.push(`${file}: ${key} holds ${looks[1]} in plain text; set it with \`pulumi config set --secret\``);
        else if (SECRET_KEY.test(leaf) && !PUBLIC_KEY.test(leaf)) found.push(`${file}: ${key} looks like a secret but is stored in plain text; set it with \`pulumi config set --secret\``);
    };
    for (const [k, v] of Object.entries(doc.config ?? {})) walk(k, v);
    return found;
}

/** The stack's own config file, found from the Pulumi project next to this policy pack. */
export function stackConfigFile(projectDir: string, stack: string): string {
    let dir = "";
    try {
        dir = parse(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"))?.stackConfigDir ?? "";
    } catch {
        // no project file: the stack file sits next to the policy pack's project
    }
    return path.join(projectDir, dir, `Pulumi.${stack}.yaml`);
}

export function noPlainSecrets(projectDir: string): StackValidationPolicy {
    return {
        name: "no-plain-secrets-in-config",
        description: "Stack configuration holds no secret-looking value in plain text.",
        enforcementLevel: "mandatory",
        validateStack: (args, report: ReportViolation) => {
            const root = args.resources.find((r) => r.type === "pulumi:pulumi:Stack");
            const stack = root?.urn.split(":")[2]?.split("::")[0];
            if (!stack) return;
            const file = stackConfigFile(projectDir, stack);
            let text: string;
            try {
                text = readFileSync(file, "utf8");
            } catch {
                return; // a stack without a file keeps its config elsewhere
            }
            for (const problem of plainSecrets(path.relative(projectDir, file), text)) report(problem);
        },
    };
}
