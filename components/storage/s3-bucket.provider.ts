// S3Bucket: a bucket made and configured through the S3 API itself
// (@aws-sdk/client-s3), for stacks that cannot run the `aws` resource plugin:
// versioning on, public access blocked, a lifecycle rule for old versions. A
// server that does not implement public access blocks or lifecycle rules (the
// local versitygw) is recorded as such in the outputs, after checking that an
// anonymous request is refused.
import {
    AbortMultipartUploadCommand,
    CreateBucketCommand,
    DeleteBucketCommand,
    DeleteObjectsCommand,
    GetBucketVersioningCommand,
    HeadBucketCommand,
    ListMultipartUploadsCommand,
    ListObjectVersionsCommand,
    PutBucketLifecycleConfigurationCommand,
    PutBucketVersioningCommand,
    PutPublicAccessBlockCommand,
    type S3Client,
} from "@aws-sdk/client-s3";
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { bucketNameProblem, endpointOf, objectUrl, s3Call, s3Client, s3ErrorName, s3Status, type S3Connection, type S3Credentials, type S3Location } from "./s3";

export interface S3BucketInputs {
    name: string;
    s3: S3Location;
    /** Secret. */
    credentials: S3Credentials;
    /** Days a version stays after it stops being current. */
    noncurrentVersionDays: number;
    /** Empty the bucket (every version) on delete instead of refusing. */
    forceDestroy: boolean;
}

/** What the server really applied. */
export type Applied = "applied" | "unsupported by the server";

export interface S3BucketOutputs extends S3BucketInputs {
    versioning: "Enabled";
    /** "unsupported by the server" means: no block API, but anonymous access was checked to be refused. */
    publicAccessBlock: Applied;
    lifecycle: Applied;
    url: string;
}

const connectionOf = (i: Pick<S3BucketInputs, "s3" | "credentials">): S3Connection => ({ ...i.s3, ...i.credentials });

const unsupported = (e: unknown) => s3ErrorName(e) === "NotImplemented" || s3Status(e) === 501;

/** Applies versioning, the public access block and the lifecycle rule; reports what took. */
async function configure(c: S3Connection, s3: S3Client, i: S3BucketInputs): Promise<Pick<S3BucketOutputs, "versioning" | "publicAccessBlock" | "lifecycle">> {
    const b = i.name;
    await s3Call(c, `enabling versioning on bucket ${b}`, async () => {
        await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: "Enabled" } }));
        const got = await s3.send(new GetBucketVersioningCommand({ Bucket: b }));
        if (got.Status !== "Enabled") throw new Error(`versioning is ${got.Status ?? "off"} after enabling it`);
    });

    let publicAccessBlock: Applied = "applied";
    await s3Call(c, `blocking public access to bucket ${b}`, async () => {
        try {
            await s3.send(
                new PutPublicAccessBlockCommand({
                    Bucket: b,
                    PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
                }),
            );
        } catch (e) {
            if (!unsupported(e)) throw e;
            publicAccessBlock = "unsupported by the server";
            await assertAnonymousRefused(c, b);
        }
    });

    let lifecycle: Applied = "applied";
    await s3Call(c, `setting the lifecycle rule of bucket ${b}`, async () => {
        try {
            await s3.send(
                new PutBucketLifecycleConfigurationCommand({
                    Bucket: b,
                    LifecycleConfiguration: {
                        Rules: [
                            {
                                ID: "expire-old-versions",
                                Status: "Enabled",
                                Filter: { Prefix: "" },
                                NoncurrentVersionExpiration: { NoncurrentDays: i.noncurrentVersionDays },
                                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
                            },
                        ],
                    },
                }),
            );
        } catch (e) {
            if (!unsupported(e)) throw e;
            lifecycle = "unsupported by the server";
        }
    });
    return { versioning: "Enabled", publicAccessBlock, lifecycle };
}

/** An unsigned request for the bucket's listing must be refused. */
async function assertAnonymousRefused(c: S3Connection, bucket: string): Promise<void> {
    const url = objectUrl(c, bucket, "");
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    if (res.status !== 403 && res.status !== 401) {
        throw new Error(`the server has no public access block API and answered an anonymous GET ${url} with HTTP ${res.status} instead of refusing it`);
    }
}

async function createOrAdopt(c: S3Connection, s3: S3Client, name: string): Promise<void> {
    await s3Call(c, `creating bucket ${name}`, async () => {
        try {
            await s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: c.region !== "us-east-1" ? { LocationConstraint: c.region as never } : undefined }));
        } catch (e) {
            // Ours already (an earlier interrupted `up`): converge on it.
            if (s3ErrorName(e) !== "BucketAlreadyOwnedByYou") throw e;
        }
    });
}

/** Deletes every object version, delete marker and open multipart upload. */
async function empty(s3: S3Client, bucket: string): Promise<void> {
    for (;;) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
        const ids = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
        if (!ids.length) break;
        const r = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: ids, Quiet: true } }));
        if (r.Errors?.length) throw new Error(r.Errors.map((e) => `${e.Key}: ${e.Code} ${e.Message}`).join("; "));
    }
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
}

async function apply(i: S3BucketInputs, create: boolean): Promise<S3BucketOutputs> {
    const c = connectionOf(i);
    const s3 = s3Client(c);
    try {
        if (create) await createOrAdopt(c, s3, i.name);
        const applied = await configure(c, s3, i);
        return { ...i, ...applied, url: objectUrl(c, i.name, "") };
    } finally {
        s3.destroy();
    }
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures = [];
        if (!isUnknown(news.name)) {
            const problem = typeof news.name === "string" ? bucketNameProblem(news.name) : "must be a string";
            if (problem) failures.push({ property: "name", reason: `bucket name ${problem}` });
        }
        const s3 = news.s3 as S3Location | undefined;
        if (s3 && !isUnknown(s3.endpoint) && s3.endpoint !== undefined && !/^https?:\/\/[^/]+\/?$/.test(String(s3.endpoint))) {
            failures.push({ property: "s3", reason: `endpoint must be http(s)://host[:port], got ${JSON.stringify(s3.endpoint)}` });
        }
        if (!isUnknown(news.noncurrentVersionDays) && !(Number.isInteger(news.noncurrentVersionDays) && news.noncurrentVersionDays > 0)) {
            failures.push({ property: "noncurrentVersionDays", reason: `must be a whole number of days > 0, got ${JSON.stringify(news.noncurrentVersionDays)}` });
        }
        return { inputs: news, failures };
    },
    diff: diffOn(["name", "s3"], ["credentials", "noncurrentVersionDays", "forceDestroy"]),
    async create(inputs) {
        const outs = await apply(inputs as S3BucketInputs, true);
        return { id: outs.name, outs };
    },
    async update(_id, _olds, news) {
        return { outs: await apply(news as S3BucketInputs, false) };
    },
    async read(id, props) {
        const p = props as S3BucketOutputs;
        const c = connectionOf(p);
        const s3 = s3Client(c);
        try {
            const exists = await s3.send(new HeadBucketCommand({ Bucket: id })).then(
                () => true,
                (e) => {
                    if (s3Status(e) === 404) return false;
                    throw e;
                },
            );
            if (!exists) return { id: "", props: {} };
            const v = await s3.send(new GetBucketVersioningCommand({ Bucket: id }));
            return { id, props: { ...p, versioning: v.Status ?? "Disabled" } };
        } catch (e) {
            throw new Error(`S3 ${endpointOf(c)}: reading bucket ${id} failed: ${(e as Error).message}`);
        } finally {
            s3.destroy();
        }
    },
    async delete(id, props) {
        const p = props as S3BucketOutputs;
        const c = connectionOf(p);
        const s3 = s3Client(c);
        try {
            await s3Call(c, `deleting bucket ${id}`, async () => {
                if (p.forceDestroy) await empty(s3, id);
                try {
                    await s3.send(new DeleteBucketCommand({ Bucket: id }));
                } catch (e) {
                    if (s3ErrorName(e) === "NoSuchBucket") return;
                    if (s3ErrorName(e) === "BucketNotEmpty") {
                        throw new Error(`bucket ${id} still holds objects (or old versions of them); empty it, or set forceDestroy to delete them with it`);
                    }
                    throw e;
                }
            });
        } finally {
            s3.destroy();
        }
    },
};
