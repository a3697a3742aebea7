// ArtifactStore: the site's S3 buckets — recipes (`ims`), boot artifacts
// (`boot-images`) and pre-staged disks (`prestage`) — each versioned, with public
// access blocked and a lifecycle rule that expires old versions.
//
// Two ways to make them, chosen per stack:
//   kind "aws"     @pulumi/aws with an explicit aws.Provider (endpoint, path-style,
//                  region, credentials as secrets): AWS S3, Ceph RGW, ODF. Needs
//                  the `aws` resource plugin at deploy time.
//   kind "s3-api"  the same buckets through the S3 API itself (S3Bucket, a dynamic
//                  resource on @aws-sdk/client-s3), for stacks that cannot run the
//                  aws plugin — the local stack on its versitygw.
// Objects are published either way with ArtifactObject (lib-storage uploads).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ArtifactObject, type ArtifactObjectArgs } from "./artifact-object";
import { S3Bucket } from "./s3-bucket";
import type { S3Credentials, S3Location } from "./s3";

export const ARTIFACT_STORE_KINDS = ["aws", "s3-api"] as const;
export type ArtifactStoreKind = (typeof ARTIFACT_STORE_KINDS)[number];

/** The three buckets, by role. */
export interface BucketNames {
    /** Rendered image recipes (kiwi) as .tgz; IMS calls it `ims`. */
    recipes: string;
    /** Kernel, initrd, rootfs and manifest per image digest. */
    bootImages: string;
    /** Pre-staged and composed disks for factories and devices. */
    prestage: string;
}
export type BucketRole = keyof BucketNames;
export const DEFAULT_BUCKETS: BucketNames = { recipes: "ims", bootImages: "boot-images", prestage: "prestage" };

export interface ArtifactStoreArgs {
    kind: ArtifactStoreKind;
    /** The S3 endpoint; unset for AWS S3 itself. */
    endpoint?: string;
    region: string;
    pathStyle: boolean;
    accessKey: pulumi.Input<string>;
    secretKey: pulumi.Input<string>;
    buckets: BucketNames;
    /** Days an object version is kept after it stops being current. Default 30. */
    noncurrentVersionDays?: number;
    /** Delete the buckets' contents with them on destroy. Default false. */
    forceDestroy?: boolean;
}

export interface PublishArgs extends Omit<ArtifactObjectArgs, "bucket" | "s3" | "credentials"> {
    bucket: BucketRole;
}

export class ArtifactStore extends pulumi.ComponentResource {
    readonly kind: ArtifactStoreKind;
    readonly buckets: pulumi.Output<BucketNames>;
    readonly location: S3Location;
    /** Secret. */
    readonly credentials: pulumi.Output<S3Credentials>;
    /** What publishing must wait for: each bucket with its configuration. */
    readonly ready: pulumi.Resource[] = [];

    constructor(name: string, args: ArtifactStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:storage:ArtifactStore", name, {}, opts);
        this.kind = args.kind;
        this.location = { endpoint: args.endpoint, region: args.region, pathStyle: args.pathStyle };
        this.credentials = pulumi.secret(pulumi.all([args.accessKey, args.secretKey]).apply(([accessKeyId, secretAccessKey]) => ({ accessKeyId, secretAccessKey })));
        const days = args.noncurrentVersionDays ?? 30;
        const forceDestroy = args.forceDestroy ?? false;
        const names: Partial<Record<BucketRole, pulumi.Output<string>>> = {};

        if (args.kind === "aws") {
            const custom = args.endpoint !== undefined;
            const provider = new aws.Provider(
                `${name}-aws`,
                {
                    region: args.region,
                    accessKey: pulumi.secret(args.accessKey),
                    secretKey: pulumi.secret(args.secretKey),
                    s3UsePathStyle: args.pathStyle,
                    endpoints: custom ? [{ s3: args.endpoint }] : undefined,
                    // An S3-compatible store has no STS, IAM or instance metadata to ask.
                    skipCredentialsValidation: custom,
                    skipRequestingAccountId: custom,
                    skipRegionValidation: custom,
                    skipMetadataApiCheck: true,
                },
                { parent: this },
            );
            for (const [role, bucketName] of Object.entries(args.buckets) as Array<[BucketRole, string]>) {
                const child = { parent: this, provider };
                const bucket = new aws.s3.Bucket(`${name}-${role}`, { bucket: bucketName, forceDestroy }, child);
                const versioning = new aws.s3.BucketVersioning(`${name}-${role}-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, child);
                const publicAccess = new aws.s3.BucketPublicAccessBlock(
                    `${name}-${role}-public-access`,
                    { bucket: bucket.id, blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true },
                    child,
                );
                const lifecycle = new aws.s3.BucketLifecycleConfiguration(
                    `${name}-${role}-lifecycle`,
                    {
                        bucket: bucket.id,
                        rules: [
                            {
                                id: "expire-old-versions",
                                status: "Enabled",
                                filter: { prefix: "" },
                                noncurrentVersionExpiration: { noncurrentDays: days },
                                abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                            },
                        ],
                    },
                    // S3 wants versioning in place before rules about versions.
                    { ...child, dependsOn: [versioning] },
                );
                names[role] = bucket.bucket;
                this.ready.push(bucket, versioning, publicAccess, lifecycle);
            }
        } else {
            for (const [role, bucketName] of Object.entries(args.buckets) as Array<[BucketRole, string]>) {
                const bucket = new S3Bucket(
                    `${name}-${role}`,
                    { name: bucketName, s3: this.location, credentials: this.credentials, noncurrentVersionDays: days, forceDestroy },
                    { parent: this },
                );
                names[role] = bucket.name;
                this.ready.push(bucket);
            }
        }
        this.buckets = pulumi.output(names as Record<BucketRole, pulumi.Output<string>>);
        this.registerOutputs({ buckets: this.buckets });
    }

    /** Publishes a file or a folder (.tgz) to one of the store's buckets. */
    publish(name: string, args: PublishArgs, opts?: pulumi.CustomResourceOptions): ArtifactObject {
        return new ArtifactObject(
            name,
            { ...args, bucket: this.buckets[args.bucket], s3: this.location, credentials: this.credentials },
            { ...opts, dependsOn: [...this.ready, ...((opts?.dependsOn as pulumi.Resource[] | undefined) ?? [])] },
        );
    }
}
