// Each rule with a violating and a passing resource.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { builderVmLimits, bucketsNeverPublic, everyBucketBlocked, noPlainSecrets, plainSecrets, releasedImagesByDigest, releasedImagesSigned, tlsExceptLoopback } from "./rules";

const D = `sha256:${"a".repeat(64)}`;

/** The messages a resource policy reports for one resource. */
function violations(policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>): string[] {
    const found: string[] = [];
    const validate = policy.validateResource as (args: unknown, report: (m: string) => void) => void;
    validate({ type, props, urn: `urn:pulumi:s::p::${type}::x`, name: "x", opts: {}, isType: () => false, asType: () => undefined, getConfig: () => ({}), notApplicable: () => undefined }, (m) => found.push(m));
    return found;
}

function stackViolations(policy: StackValidationPolicy, resources: Array<Pick<PolicyResource, "type" | "props" | "urn">>): string[] {
    const found: string[] = [];
    const validate = policy.validateStack as (args: unknown, report: (m: string) => void) => void;
    validate({ resources, stackTags: new Map(), getConfig: () => ({}), notApplicable: () => undefined }, (m) => found.push(m));
    return found;
}

describe("released-images-by-digest", () => {
    it("flags a tag where a digest is due", () => {
        expect(violations(releasedImagesByDigest, "pulumi-nodejs:dynamic/image-factory:ImageTest", { ref: "r:5000/demo/base:latest" })).toEqual([
            'ref must reference the image by digest (…@sha256:<64 hex>), not "r:5000/demo/base:latest"',
        ]);
        expect(violations(releasedImagesByDigest, "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume", { spec: { source: { registry: { url: "docker://r/x-disk:1.0" } } } })).toHaveLength(1);
        expect(violations(releasedImagesByDigest, "pulumi-nodejs:dynamic/image-factory:ImageRelease", { digest: "latest" })).toEqual(['digest must be a sha256 digest, not "latest"']);
    });
    it("passes digests, and values not known yet (preview)", () => {
        expect(violations(releasedImagesByDigest, "pulumi-nodejs:dynamic/image-factory:ImageBuild", { parentRef: `r:5000/demo/base@${D}` })).toEqual([]);
        expect(violations(releasedImagesByDigest, "pulumi-nodejs:dynamic/image-factory:ImageBuild", { parentRef: null })).toEqual([]);
        expect(violations(releasedImagesByDigest, "pulumi-nodejs:dynamic/image-factory:ImageTest", { ref: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" })).toEqual([]);
    });
});

describe("buckets-never-public", () => {
    it("flags a block with a flag off, a public ACL, and a policy open to anyone", () => {
        expect(
            violations(bucketsNeverPublic, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", { blockPublicAcls: true, blockPublicPolicy: false, ignorePublicAcls: true, restrictPublicBuckets: true }),
        ).toEqual(["blockPublicPolicy must be true"]);
        expect(violations(bucketsNeverPublic, "aws:s3/bucketAcl:BucketAcl", { acl: "public-read" })).toEqual(['acl "public-read" makes the bucket public']);
        const open = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::ims/*" }] });
        expect(violations(bucketsNeverPublic, "aws:s3/bucketPolicy:BucketPolicy", { policy: open })).toEqual(['the bucket policy allows anyone (Principal "*")']);
    });
    it("passes a full block and a policy for a named principal", () => {
        expect(violations(bucketsNeverPublic, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true })).toEqual([]);
        const named = JSON.stringify({ Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:role/ims" }, Action: "s3:GetObject" }] });
        expect(violations(bucketsNeverPublic, "aws:s3/bucketPolicy:BucketPolicy", { policy: named })).toEqual([]);
    });
    it("every aws bucket needs its public access block", () => {
        const bucket = { type: "aws:s3/bucket:Bucket", props: { bucket: "ims" }, urn: "urn:b" };
        expect(stackViolations(everyBucketBlocked, [bucket])).toEqual(["bucket ims has no BucketPublicAccessBlock"]);
        expect(stackViolations(everyBucketBlocked, [bucket, { type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", props: { bucket: "ims" }, urn: "urn:c" }])).toEqual([]);
    });
});

describe("builder-vm-resource-limits", () => {
    const vm = (resources: unknown) => ({ spec: { template: { spec: { domain: { cpu: { cores: 4 }, resources } } } } });
    it("flags a VM without limits", () => {
        expect(violations(builderVmLimits, "kubernetes:kubevirt.io/v1:VirtualMachine", vm({ requests: { memory: "8Gi" } }))).toEqual([
            "spec.template.spec.domain.resources.limits.cpu must be set",
            "spec.template.spec.domain.resources.limits.memory must be set",
        ]);
    });
    it("passes a VM with CPU and memory limits", () => {
        expect(violations(builderVmLimits, "kubernetes:kubevirt.io/v1:VirtualMachine", vm({ limits: { cpu: "4", memory: "8Gi" } }))).toEqual([]);
    });
});

describe("tls-except-loopback", () => {
    it("flags plain HTTP to another host, and a Route without TLS", () => {
        expect(violations(tlsExceptLoopback, "pulumi-nodejs:dynamic/image-factory:S3Bucket", { s3: { endpoint: "http://rgw.site-a.example.com" } })).toEqual([
            "s3.endpoint http://rgw.site-a.example.com is plain HTTP to rgw.site-a.example.com; use https:// (plain HTTP is for loopback only)",
        ]);
        expect(violations(tlsExceptLoopback, "pulumi:providers:aws", { endpoints: [{ s3: "http://10.0.0.5:7480" }] })).toHaveLength(1);
        expect(violations(tlsExceptLoopback, "kubernetes:route.openshift.io/v1:Route", { spec: { host: "registry.example.com" } })).toEqual(["the Route must terminate TLS (spec.tls.termination)"]);
    });
    it("passes HTTPS, loopback HTTP, and a Route with TLS", () => {
        expect(violations(tlsExceptLoopback, "pulumi-nodejs:dynamic/image-factory:S3Bucket", { s3: { endpoint: "https://rgw.site-a.example.com" } })).toEqual([]);
        expect(violations(tlsExceptLoopback, "pulumi-nodejs:dynamic/image-factory:S3Bucket", { s3: { endpoint: "http://127.0.0.1:7070" } })).toEqual([]);
        expect(violations(tlsExceptLoopback, "kubernetes:route.openshift.io/v1:Route", { spec: { tls: { termination: "reencrypt" } } })).toEqual([]);
    });
});

describe("no-plain-secrets-in-config", () => {
    it("flags secret-looking keys and values in plain text", () => {
        const text = [
            "config:",
            "  myteam:apiToken: abc123",
            "  image-factory:registry:",
            "    url: r.example.com",
            "    password: hunter2",
            "  other:kube: |",
            "    users: [{user: {token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.sig}}]",
            "  other:note: 'AKIAABCDEFGHIJKLMNOP'",
        ].join("\n");
        expect(plainSecrets("stacks/Pulumi.x.yaml", text)).toEqual([
            "stacks/Pulumi.x.yaml: myteam:apiToken looks like a secret but is stored in plain text; set it with `pulumi config set --secret`",
            "stacks/Pulumi.x.yaml: image-factory:registry.password looks like a secret but is stored in plain text; set it with `pulumi config set --secret`",
            "stacks/Pulumi.x.yaml: other:kube holds a JSON web token in plain text; set it with `pulumi config set --secret`",
            "stacks/Pulumi.x.yaml: other:note holds an AWS access key id in plain text; set it with `pulumi config set --secret`",
        ]);
    });
    it("passes encrypted values, public keys and user names", () => {
        const text = [
            "config:",
            "  image-factory:registryPassword:",
            "    secure: v1:abc:def",
            "  image-factory:registry: {url: r.example.com, username: bot}",
            "  image-factory:acp: {builderVm: {sshPublicKey: 'ssh-ed25519 AAAAC3Nza key'}}",
        ].join("\n");
        expect(plainSecrets("f", text)).toEqual([]);
    });
    it("reads the stack's own file, found from the project's stackConfigDir", async () => {
        const root = await fs.mkdtemp(path.join(os.tmpdir(), "if-policy-"));
        await fs.writeFile(path.join(root, "Pulumi.yaml"), "name: p\nruntime: nodejs\nstackConfigDir: stacks\n");
        await fs.mkdir(path.join(root, "stacks"));
        await fs.writeFile(path.join(root, "stacks/Pulumi.site-x.yaml"), "config:\n  image-factory:s3SecretKey: plain\n");
        const stackResource = { type: "pulumi:pulumi:Stack", props: {}, urn: "urn:pulumi:site-x::p::pulumi:pulumi:Stack::p-site-x" };
        expect(stackViolations(noPlainSecrets(root), [stackResource])).toEqual([
            "stacks/Pulumi.site-x.yaml: image-factory:s3SecretKey looks like a secret but is stored in plain text; set it with `pulumi config set --secret`",
        ]);
        await fs.rm(root, { recursive: true });
    });
    it("the repository's example stacks pass", async () => {
        const root = path.resolve(__dirname, "..");
        for (const f of await fs.readdir(path.join(root, "stacks"))) {
            expect(plainSecrets(f, await fs.readFile(path.join(root, "stacks", f), "utf8")), f).toEqual([]);
        }
    });
});

describe("released-images-signed", () => {
    const release = "pulumi-nodejs:dynamic/image-factory:ImageRelease";
    const run = async (props: Record<string, unknown>) => {
        const found: string[] = [];
        await (releasedImagesSigned.validateResource as (a: unknown, r: (m: string) => void) => Promise<void>)({ type: release, props, urn: "u", name: "x", opts: {} }, (m) => found.push(m));
        return found;
    };
    it("flags a release that verifies no signature", async () => {
        expect(await run({ registry: "r:5000", repository: "demo/base", digest: D })).toEqual([
            "releases images without verifying their signature: set image-factory:signing.publicKey and the secret signingKey (the fleet key)",
        ]);
    });
    it("passes a release with the fleet key whose digest is not known yet (checked by the release on up)", async () => {
        expect(await run({ registry: "127.0.0.1:1", repository: "demo/base", digest: "04da6b54-80e4-46f7-96ec-b56ff0331ba9", publicKey: "-----BEGIN PUBLIC KEY-----…" })).toEqual([]);
    });
});
