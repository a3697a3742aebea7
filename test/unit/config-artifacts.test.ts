// The `artifacts` section of the stack configuration and its two secrets.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { type ConfigError, parseSiteConfig, type RawConfig } from "../../infra/config";

const base = { site: { name: "local", role: "local" }, registry: { url: "127.0.0.1:5000" } };
const secrets = { s3AccessKey: pulumi.secret("k"), s3SecretKey: pulumi.secret("s") };
const parse = (artifacts: unknown, s: RawConfig["secrets"] = secrets) => parseSiteConfig({ values: { ...base, artifacts }, secrets: s });
const problems = (artifacts: unknown, s: RawConfig["secrets"] = secrets): string[] => {
    try {
        parse(artifacts, s);
        return [];
    } catch (e) {
        return (e as ConfigError).problems;
    }
};

describe("artifacts config", () => {
    it("is absent unless configured", () => {
        expect(parseSiteConfig({ values: base, secrets: {} }).artifacts).toBeUndefined();
    });

    it("defaults the bucket names, region, path-style (on with an endpoint) and version days", () => {
        const a = parse({ kind: "s3-api", endpoint: "http://127.0.0.1:7070/" })!.artifacts!;
        expect(a).toMatchObject({
            kind: "s3-api",
            endpoint: "http://127.0.0.1:7070",
            region: "us-east-1",
            pathStyle: true,
            buckets: { recipes: "ims", bootImages: "boot-images", prestage: "prestage" },
            noncurrentVersionDays: 30,
            forceDestroy: false,
        });
        expect(pulumi.Output.isInstance(a.secretKey)).toBe(true);
        expect(parse({ kind: "aws", region: "eu-west-1" })!.artifacts).toMatchObject({ pathStyle: false, endpoint: undefined, region: "eu-west-1" });
    });

    it("names every bad key at once", () => {
        expect(problems({ kind: "minio", endpoint: "s3.example", pathStyle: "yes", buckets: { recipes: "IMS", bootImages: "ims", extra: "x" }, noncurrentVersionDays: 0 }, {})).toEqual([
            "image-factory:artifacts.kind: must be one of \"aws\", \"s3-api\", got \"minio\"",
            "image-factory:artifacts.endpoint: must be http(s)://host[:port], got \"s3.example\"",
            "image-factory:artifacts.pathStyle: must be true or false, got \"yes\"",
            "image-factory:artifacts.buckets.extra: unknown key (expected one of: recipes, bootImages, prestage)",
            "image-factory:artifacts.noncurrentVersionDays: must be a whole number of days > 0, got 0",
            expect.stringMatching(/^image-factory:artifacts\.buckets\.recipes: must be 3-63 characters .*got "IMS"$/),
            "image-factory:s3AccessKey: is required when artifacts is set (pulumi config set --secret s3AccessKey, value on stdin)",
            "image-factory:s3SecretKey: is required when artifacts is set (pulumi config set --secret s3SecretKey, value on stdin)",
        ]);
    });

    it("wants an endpoint for s3-api, distinct buckets, and no S3 secrets without a store", () => {
        expect(problems({ kind: "s3-api" })).toEqual(['image-factory:artifacts.endpoint: is required when artifacts.kind is "s3-api"']);
        expect(problems({ kind: "aws", buckets: { recipes: "same-name", bootImages: "same-name" } })).toEqual([
            'image-factory:artifacts.buckets: must name three different buckets, got {"recipes":"same-name","bootImages":"same-name","prestage":"prestage"}',
        ]);
        expect(() => parseSiteConfig({ values: base, secrets })).toThrow(/image-factory:s3AccessKey: is set but the artifact store is not/);
    });
});
