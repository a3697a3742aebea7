// ArtifactStore under Pulumi mocks: the resource graph, its inputs and secrets.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import type { ArtifactStore } from "../../components/storage/artifact-store";

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider?: string;
}
const registered: Registered[] = [];

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: (args) => args.inputs,
        },
        "image-factory",
        "test",
        false,
    );
});

/** Resolves an Output and says whether it is secret. */
function settle<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    return new Promise((resolve) => pulumi.all([o, pulumi.isSecret(o)]).apply(([value, secret]) => resolve({ value: value as T, secret })));
}

/** How a secret input reaches the engine: wrapped in the secret signature. */
const asSecret = (value: unknown) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });

const byType = (t: string) => registered.filter((r) => r.type === t);

describe("ArtifactStore kind aws (an explicit aws.Provider)", () => {
    let store: ArtifactStore;

    beforeAll(async () => {
        const { ArtifactStore } = await import("../../components/storage/artifact-store");
        registered.length = 0;
        store = new ArtifactStore("artifacts", {
            kind: "aws",
            endpoint: "https://rgw.site-a.example",
            region: "site-a",
            pathStyle: true,
            accessKey: pulumi.secret("AKIAEXAMPLE"),
            secretKey: pulumi.secret("s3cr3t-example"),
            buckets: { recipes: "ims", bootImages: "boot-images", prestage: "prestage" },
            noncurrentVersionDays: 14,
        });
        await settle(store.buckets);
    });

    it("configures one provider for the endpoint, path-style and region, with the credentials registered as secrets", () => {
        const providers = byType("pulumi:providers:aws");
        expect(providers).toHaveLength(1);
        const p = providers[0].inputs; // provider inputs reach the engine JSON-encoded
        expect(p.accessKey).toEqual(asSecret("AKIAEXAMPLE"));
        expect(p.secretKey).toEqual(asSecret("s3cr3t-example"));
        expect(JSON.parse(p.endpoints)).toEqual([{ s3: "https://rgw.site-a.example" }]);
        expect(p).toMatchObject({ region: "site-a", s3UsePathStyle: "true", skipCredentialsValidation: "true", skipRequestingAccountId: "true" });
    });

    it("makes three buckets, each with versioning on, all public access blocked and a lifecycle rule for old versions, through that provider", async () => {
        const buckets = byType("aws:s3/bucket:Bucket");
        expect(buckets.map((b) => b.inputs.bucket).sort()).toEqual(["boot-images", "ims", "prestage"]);
        expect(buckets.every((b) => b.inputs.forceDestroy === false)).toBe(true);
        const bucketIds = buckets.map((b) => `${b.name}-id`).sort();

        const versioning = byType("aws:s3/bucketVersioning:BucketVersioning");
        expect(versioning.map((v) => v.inputs.bucket).sort()).toEqual(bucketIds);
        expect(versioning.map((v) => v.inputs.versioningConfiguration)).toEqual(Array(3).fill({ status: "Enabled" }));

        const pab = byType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
        expect(pab.map((v) => v.inputs.bucket).sort()).toEqual(bucketIds);
        for (const b of pab) {
            expect(b.inputs).toMatchObject({ blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true });
        }

        const lifecycle = byType("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
        expect(lifecycle.map((v) => v.inputs.bucket).sort()).toEqual(bucketIds);
        for (const l of lifecycle) {
            expect(l.inputs.rules).toEqual([
                expect.objectContaining({ status: "Enabled", noncurrentVersionExpiration: { noncurrentDays: 14 }, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } }),
            ]);
        }

        // Every bucket resource goes through the explicit provider, never the default one.
        for (const r of [...buckets, ...versioning, ...pab, ...lifecycle]) {
            expect(r.provider, r.name).toMatch(/\$pulumi:providers:aws::artifacts-aws::artifacts-aws-id$/);
        }
        expect(await settle(store.buckets)).toEqual({ value: { recipes: "ims", bootImages: "boot-images", prestage: "prestage" }, secret: false });
        expect(await settle(store.credentials)).toEqual({ value: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3cr3t-example" }, secret: true });
    });

    it("publishes into a bucket by role, with the credentials as a secret input", async () => {
        const obj = store.publish("recipe-demo", { bucket: "recipes", key: "recipes/demo.tgz", source: { directory: "/tmp/recipe" } });
        expect(await settle(obj.bucket)).toEqual({ value: "ims", secret: false });
        const rec = registered.find((r) => r.name === "recipe-demo")!;
        expect(rec.type).toBe("pulumi-nodejs:dynamic/image-factory:ArtifactObject");
        expect(rec.inputs).toMatchObject({ key: "recipes/demo.tgz", source: { directory: "/tmp/recipe" }, s3: { endpoint: "https://rgw.site-a.example", region: "site-a", pathStyle: true } });
        expect(rec.inputs.credentials).toEqual(asSecret({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3cr3t-example" }));
    });
});

describe("ArtifactStore kind s3-api (buckets through the S3 API)", () => {
    it("makes one S3Bucket per role, with the credentials as a secret input and no aws provider", async () => {
        const { ArtifactStore } = await import("../../components/storage/artifact-store");
        registered.length = 0;
        const store = new ArtifactStore("local-artifacts", {
            kind: "s3-api",
            endpoint: "http://127.0.0.1:7070",
            region: "us-east-1",
            pathStyle: true,
            accessKey: pulumi.secret("local-key"),
            secretKey: pulumi.secret("local-secret"),
            buckets: { recipes: "ims", bootImages: "boot-images", prestage: "prestage" },
            forceDestroy: true,
        });
        expect(await settle(store.buckets)).toEqual({ value: { recipes: "ims", bootImages: "boot-images", prestage: "prestage" }, secret: false });
        expect(byType("pulumi:providers:aws")).toEqual([]);
        const buckets = byType("pulumi-nodejs:dynamic/image-factory:S3Bucket");
        expect(buckets.map((b) => b.inputs.name).sort()).toEqual(["boot-images", "ims", "prestage"]);
        for (const b of buckets) {
            expect(b.inputs).toMatchObject({ s3: { endpoint: "http://127.0.0.1:7070", region: "us-east-1", pathStyle: true }, noncurrentVersionDays: 30, forceDestroy: true });
            expect(b.inputs.credentials).toEqual(asSecret({ accessKeyId: "local-key", secretAccessKey: "local-secret" }));
            expect(b.inputs.__provider).toContain("s3-bucket.provider");
        }
    });
});
