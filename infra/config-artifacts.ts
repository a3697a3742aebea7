// image-factory:artifacts and the S3 secrets: the site's artifact store.
import type * as pulumi from "@pulumi/pulumi";
import { type ArtifactStoreKind, bucketNameProblem, type BucketNames } from "../components/storage";
import type { Section } from "./config";

export interface ArtifactsConfig {
    /** "aws": @pulumi/aws with an explicit provider (needs the aws plugin); "s3-api": buckets through the S3 API. */
    kind: ArtifactStoreKind;
    /** http(s)://host[:port]; unset means AWS S3 itself (kind aws only). */
    endpoint?: string;
    region: string;
    pathStyle: boolean;
    buckets: BucketNames;
    noncurrentVersionDays: number;
    forceDestroy: boolean;
    /** Images whose boot artifact set (kernel, initrd, squashfs rootfs, manifest) is published to the boot-images bucket. */
    bootArtifacts: string[];
    /** Pulumi secrets (config keys image-factory:s3AccessKey and image-factory:s3SecretKey). */
    accessKey: pulumi.Output<string>;
    secretKey: pulumi.Output<string>;
}

/** The artifacts section; undefined when the site publishes no artifacts. */
export function artifactsSection({ values: v, raw, fail, failed }: Section): ArtifactsConfig | undefined {
    const a = v.artifacts;
    const accessKey = raw.secrets.s3AccessKey;
    const secretKey = raw.secrets.s3SecretKey;
    if (raw.values.artifacts === undefined) {
        for (const k of ["s3AccessKey", "s3SecretKey"]) if (raw.secrets[k]) fail(k, "is set but the artifact store is not (set image-factory:artifacts, or remove it)");
        return undefined;
    }
    if (!a || typeof a !== "object") return undefined;
    const endpoint = failed("artifacts.endpoint") ? undefined : a.endpoint?.replace(/\/$/, "");
    if (a.kind === "s3-api" && a.endpoint === undefined) fail("artifacts.endpoint", 'is required when artifacts.kind is "s3-api"');
    const buckets = a.buckets as BucketNames;
    let namesValid = !failed("artifacts.buckets");
    for (const role of ["recipes", "bootImages", "prestage"] as const) {
        const name = buckets?.[role];
        const problem = typeof name === "string" ? bucketNameProblem(name) : undefined;
        if (problem) {
            fail(`artifacts.buckets.${role}`, problem);
            namesValid = false;
        }
    }
    if (namesValid && new Set(Object.values(buckets)).size !== 3) fail("artifacts.buckets", `must name three different buckets, got ${JSON.stringify(buckets)}`);
    if (!accessKey) fail("s3AccessKey", "is required when artifacts is set (pulumi config set --secret s3AccessKey, value on stdin)");
    if (!secretKey) fail("s3SecretKey", "is required when artifacts is set (pulumi config set --secret s3SecretKey, value on stdin)");
    return {
        kind: a.kind,
        endpoint,
        region: a.region!,
        // S3-compatible stores mostly want path-style; AWS wants virtual-host style.
        pathStyle: a.pathStyle ?? endpoint !== undefined,
        buckets,
        noncurrentVersionDays: a.noncurrentVersionDays!,
        forceDestroy: a.forceDestroy!,
        bootArtifacts: a.bootArtifacts!,
        accessKey: accessKey!,
        secretKey: secretKey!,
    };
}
