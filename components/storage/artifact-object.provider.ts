// ArtifactObject: one published object in an S3 bucket — a file (a pre-staged or
// composed disk, a boot artifact) or a folder as a reproducible .tgz (a rendered
// kiwi recipe). Uploaded with sha256 checksums; skipped when the same content is
// already there; every version of the key is deleted on destroy.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { objectUrl, s3Call, type S3Credentials, type S3Location } from "./s3";
import { sha256File } from "../hash";
import { withTempDir } from "../temp-dir";
import { abortUnfinishedUploads, deleteAllVersions, headObject, objectSha256, tarGzDirectory, uploadFile } from "./upload";

export interface ArtifactSource {
    /** An absolute path of a file to upload as it is. */
    file?: string;
    /** An absolute path of a folder to upload as a reproducible .tgz. */
    directory?: string;
    /** Files given inline (relative path → base64), uploaded as a reproducible .tgz: a rendered recipe. */
    files?: Record<string, string>;
}

export interface ArtifactObjectInputs {
    bucket: string;
    key: string;
    s3: S3Location;
    /** Secret. */
    credentials: S3Credentials;
    source: ArtifactSource;
    /** hex sha256 of what is uploaded (the file, or the folder's .tgz); computed by check when not given. */
    sha256?: string;
    contentType?: string;
    metadata?: Record<string, string>;
}

export interface ArtifactObjectOutputs extends ArtifactObjectInputs {
    sha256: string;
    size: number;
    versionId: string;
    etag: string;
    /** s3://bucket/key */
    uri: string;
    /** The object's HTTP(S) URL (path-style on a custom endpoint). */
    url: string;
}

const MAX_METADATA_BYTES = 1800; // S3 allows 2 KiB of user metadata; sha256 takes the rest

/** Runs `fn` with the path of the bytes to upload: the file itself, or the folder's .tgz in a temp folder. */
async function withPayload<T>(source: ArtifactSource, fn: (file: string) => Promise<T>): Promise<T> {
    if (source.file) return fn(source.file);
    return withTempDir("if-artifact-", async (dir) => {
        let folder = source.directory;
        if (source.files) {
            folder = path.join(dir, "content");
            for (const [rel, b64] of Object.entries(source.files)) {
                const target = path.join(folder, rel);
                if (path.isAbsolute(rel) || !target.startsWith(folder + path.sep)) throw new Error(`source.files: ${JSON.stringify(rel)} leaves the archive`);
                await fs.mkdir(path.dirname(target), { recursive: true });
                await fs.writeFile(target, Buffer.from(b64, "base64"));
            }
        }
        const tgz = path.join(dir, `${path.basename(folder!)}.tgz`);
        await tarGzDirectory(folder!, tgz);
        return fn(tgz);
    });
}

/** Publishes `i`; `recorded` is what the state says is there (an update), so that a replaced object is not taken for ours. */
async function publish(i: ArtifactObjectInputs, recorded?: ArtifactObjectOutputs): Promise<ArtifactObjectOutputs> {
    const c = { ...i.s3, ...i.credentials };
    const r = await withPayload(i.source, (file) =>
        uploadFile(c, {
            bucket: i.bucket,
            key: i.key,
            file,
            contentType: i.contentType,
            metadata: i.metadata,
            expectEtag: recorded?.etag || undefined,
        }),
    );
    if (r.abortedUploads) console.log(`s3://${i.bucket}/${i.key}: aborted ${r.abortedUploads} unfinished multipart upload(s) left by an interrupted upload`);
    if (r.skipped) console.log(`s3://${i.bucket}/${i.key}: already there with sha256 ${r.sha256}; not uploaded again`);
    return {
        ...i,
        sha256: r.sha256,
        size: r.size,
        versionId: r.versionId ?? "",
        etag: r.etag ?? "",
        uri: `s3://${i.bucket}/${i.key}`,
        url: objectUrl(i.s3, i.bucket, i.key),
    };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        const inputs = { ...news };
        if (!isUnknown(news.key) && (typeof news.key !== "string" || !news.key || news.key.startsWith("/") || news.key.length > 1024)) {
            failures.push({ property: "key", reason: `key must be a non-empty relative object key, got ${JSON.stringify(news.key)}` });
        }
        const src = news.source as ArtifactSource | undefined;
        if (!isUnknown(src)) {
            const given = [src?.file, src?.directory, src?.files].filter((v) => v !== undefined);
            const inline = src?.files !== undefined;
            if (given.length !== 1 || (inline ? typeof src!.files !== "object" : typeof given[0] !== "string" || !path.isAbsolute(given[0] as string))) {
                failures.push({ property: "source", reason: `source must have exactly one of file or directory (an absolute path) or files (inline); got ${JSON.stringify(src)?.slice(0, 200)}` });
            } else if (news.sha256 === undefined) {
                // Hash the content now so that `preview` shows a changed file as a change.
                try {
                    inputs.sha256 = await withPayload(src!, sha256File);
                } catch (e) {
                    const what = src!.file ? "file" : src!.directory ? "directory" : "files";
                    failures.push({ property: "source", reason: `source.${what} ${given[0]}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : (e as Error).message}` });
                }
            }
        }
        if (news.contentType === undefined && !isUnknown(src)) inputs.contentType = src?.file ? "application/octet-stream" : "application/gzip";
        if (!isUnknown(news.metadata) && news.metadata && Buffer.byteLength(JSON.stringify(news.metadata)) > MAX_METADATA_BYTES) {
            failures.push({ property: "metadata", reason: `metadata must stay under ${MAX_METADATA_BYTES} bytes` });
        }
        return { inputs, failures };
    },
    diff: diffOn(["bucket", "key", "s3"], ["credentials", "sha256", "contentType", "metadata"]),
    async create(inputs) {
        const outs = await publish(inputs as ArtifactObjectInputs);
        return { id: outs.uri, outs };
    },
    async update(_id, olds, news) {
        return { outs: await publish(news as ArtifactObjectInputs, olds as ArtifactObjectOutputs) };
    },
    async read(id, props) {
        // What the bucket really holds. The sha256 metadata is only believed while the
        // object is the one this resource uploaded (same ETag): an object replaced by
        // hand is read and hashed, so that refresh records its real content.
        const p = props as ArtifactObjectOutputs;
        const c = { ...p.s3, ...p.credentials };
        const head = await s3Call(c, `reading ${id}`, () => headObject(c, p.bucket, p.key));
        if (!head) return { id: "", props: {} };
        const sha256 = head.etag === p.etag && head.sha256 ? head.sha256 : (await objectSha256(c, p.bucket, p.key, head.versionId)).sha256;
        return { id, props: { ...p, size: head.size, sha256, versionId: head.versionId ?? "", etag: head.etag ?? "" } };
    },
    async delete(_id, props) {
        const p = props as ArtifactObjectOutputs;
        const c = { ...p.s3, ...p.credentials };
        await abortUnfinishedUploads(c, p.bucket, p.key);
        await deleteAllVersions(c, p.bucket, p.key);
    },
};
