// Uploads to S3 through @aws-sdk/lib-storage: multipart above one part, a SHA256
// checksum on every part (the server verifies each), the whole file's sha256 in
// the object's metadata (`x-amz-meta-sha256`) so that an object that is already
// there with the same content is not uploaded again, and a check of what landed.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import {
    AbortMultipartUploadCommand,
    DeleteObjectsCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListMultipartUploadsCommand,
    ListObjectVersionsCommand,
    type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { run } from "../exec";
import { sha256File } from "../hash";
import { s3Call, s3Client, s3Error, s3ErrorName, s3Status, type S3Connection } from "./s3";

/** Metadata key holding the hex sha256 of the whole object. */
export const SHA256_METADATA = "sha256";
const MiB = 1024 * 1024;

export interface UploadRequest {
    bucket: string;
    key: string;
    /** The local file to upload. */
    file: string;
    contentType?: string;
    /** Extra x-amz-meta-* values. */
    metadata?: Record<string, string>;
    /** Multipart part size. Default 16 MiB (S3's minimum is 5 MiB). */
    partSize?: number;
    /** Parts in flight at once. Default 4. */
    queueSize?: number;
    /**
     * The ETag the caller last recorded for the object: an object whose sha256
     * metadata matches but whose ETag does not was replaced, and is uploaded again.
     */
    expectEtag?: string;
    /** Aborting stops the upload and aborts the multipart upload on the server. */
    signal?: AbortSignal;
    onProgress?: (loaded: number, total: number) => void;
}

export interface UploadResult {
    bucket: string;
    key: string;
    /** hex sha256 of the whole object. */
    sha256: string;
    size: number;
    versionId?: string;
    etag?: string;
    /** True when an object with the same sha256 and size was already there. */
    skipped: boolean;
    /** Unfinished multipart uploads of the key (left by a killed upload) that were aborted first. */
    abortedUploads: number;
}


export interface StoredObject {
    size: number;
    sha256?: string;
    versionId?: string;
    etag?: string;
    metadata: Record<string, string>;
}

/** What is stored at bucket/key, or undefined when nothing is. */
export async function headObject(c: S3Connection, bucket: string, key: string, client?: S3Client): Promise<StoredObject | undefined> {
    const s3 = client ?? s3Client(c);
    try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return {
            size: head.ContentLength ?? 0,
            sha256: head.Metadata?.[SHA256_METADATA],
            versionId: head.VersionId,
            etag: head.ETag,
            metadata: head.Metadata ?? {},
        };
    } catch (e) {
        if (s3Status(e) === 404 || s3ErrorName(e) === "NotFound" || s3ErrorName(e) === "NoSuchKey") return undefined;
        throw e;
    } finally {
        if (!client) s3.destroy();
    }
}

/**
 * Aborts every unfinished multipart upload of exactly bucket/key. An upload that
 * was killed midway (SIGKILL runs no cleanup) leaves its parts on the server,
 * invisible to listings and still taking space; the next upload of the key, or
 * its delete, removes them. Resolves with how many were aborted.
 */
export async function abortUnfinishedUploads(c: S3Connection, bucket: string, key: string, client?: S3Client): Promise<number> {
    const s3 = client ?? s3Client(c);
    let aborted = 0;
    try {
        await s3Call(c, `aborting unfinished uploads of s3://${bucket}/${key}`, async () => {
            let keyMarker: string | undefined;
            let uploadIdMarker: string | undefined;
            do {
                const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
                for (const u of (page.Uploads ?? []).filter((u) => u.Key === key && u.UploadId)) {
                    try {
                        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: u.UploadId }));
                        aborted++;
                    } catch (e) {
                        if (s3ErrorName(e) !== "NoSuchUpload") throw e;
                    }
                }
                keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
                uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
            } while (keyMarker);
        });
    } catch (e) {
        if (s3ErrorName(e) === "NoSuchBucket") return aborted;
        throw e;
    } finally {
        if (!client) s3.destroy();
    }
    return aborted;
}

/**
 * Uploads `file` to bucket/key unless an object with the same sha256 (from its
 * metadata) and size is already there. Fails with a message naming the endpoint.
 */
export async function uploadFile(c: S3Connection, req: UploadRequest): Promise<UploadResult> {
    const where = `s3://${req.bucket}/${req.key}`;
    const size = (await fs.stat(req.file)).size;
    const sha256 = await sha256File(req.file);
    const s3 = s3Client(c);
    try {
        const abortedUploads = await abortUnfinishedUploads(c, req.bucket, req.key, s3);
        const existing = await s3Call(c, `checking ${where}`, () => headObject(c, req.bucket, req.key, s3));
        if (existing && existing.sha256 === sha256 && existing.size === size && (req.expectEtag === undefined || existing.etag === req.expectEtag)) {
            return { bucket: req.bucket, key: req.key, sha256, size, versionId: existing.versionId, etag: existing.etag, skipped: true, abortedUploads };
        }
        const abortController = new AbortController();
        const onAbort = () => abortController.abort(req.signal?.reason);
        if (req.signal?.aborted) onAbort();
        req.signal?.addEventListener("abort", onAbort, { once: true });
        const upload = new Upload({
            client: s3,
            params: {
                Bucket: req.bucket,
                Key: req.key,
                Body: createReadStream(req.file),
                ContentLength: size,
                ContentType: req.contentType ?? "application/octet-stream",
                Metadata: { ...req.metadata, [SHA256_METADATA]: sha256 },
                ChecksumAlgorithm: "SHA256",
            },
            partSize: Math.max(req.partSize ?? 16 * MiB, 5 * MiB),
            queueSize: req.queueSize ?? 4,
            leavePartsOnError: false, // a failed or aborted upload aborts its multipart upload
            abortController,
        });
        if (req.onProgress) upload.on("httpUploadProgress", (p) => req.onProgress!(p.loaded ?? 0, size));
        let done: Awaited<ReturnType<typeof upload.done>>;
        try {
            done = await s3Call(c, `uploading ${req.file} to ${where}`, () => upload.done());
        } catch (e) {
            // lib-storage aborts the multipart upload only after its parts in flight end,
            // in the background; abort it now so that nothing is left when we return.
            // If that fails too (the server is gone), the upload's own error is the one
            // to show; the next upload of the key aborts what is left.
            if (upload.uploadId) {
                const abortError = await s3
                    .send(new AbortMultipartUploadCommand({ Bucket: req.bucket, Key: req.key, UploadId: upload.uploadId }))
                    .then(() => undefined, (err) => (s3ErrorName(err) === "NoSuchUpload" ? undefined : err));
                if (abortError) {
                    (e as Error).message += `; its unfinished multipart upload could not be aborted (${s3Error(c, "aborting it", abortError).message}): the next upload of ${where} aborts it`;
                }
            }
            throw e;
        } finally {
            req.signal?.removeEventListener("abort", onAbort);
        }
        const landed = await s3Call(c, `checking ${where} after upload`, () => headObject(c, req.bucket, req.key, s3));
        if (!landed || landed.size !== size || landed.sha256 !== sha256) {
            throw new Error(`S3 ${c.endpoint ?? "AWS"}: ${where} after upload has size ${landed?.size} and sha256 ${landed?.sha256}, expected ${size} and ${sha256}`);
        }
        return { bucket: req.bucket, key: req.key, sha256, size, versionId: done.VersionId ?? landed.versionId, etag: done.ETag ?? landed.etag, skipped: false, abortedUploads };
    } finally {
        s3.destroy();
    }
}

/** Reads bucket/key (a given version, or the current one) and hashes what the server really holds. */
export async function objectSha256(c: S3Connection, bucket: string, key: string, versionId?: string): Promise<{ size: number; sha256: string }> {
    const where = `s3://${bucket}/${key}${versionId ? `?versionId=${versionId}` : ""}`;
    const s3 = s3Client(c);
    try {
        return await s3Call(c, `reading ${where}`, async () => {
            const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
            const hash = createHash("sha256");
            let size = 0;
            for await (const chunk of got.Body as Readable) {
                hash.update(chunk as Buffer);
                size += (chunk as Buffer).length;
            }
            return { size, sha256: hash.digest("hex") };
        });
    } finally {
        s3.destroy();
    }
}

/** The bytes of a small object (a manifest); errors go through the caller's s3Call. */
export async function readObject(c: S3Connection, bucket: string, key: string): Promise<Buffer> {
    const s3 = s3Client(c);
    try {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await got.Body!.transformToByteArray());
    } finally {
        s3.destroy();
    }
}

/**
 * Reads bucket/key back (a given version, or the current one) and checks its
 * sha256 against `expected`. Resolves with the size read.
 */
export async function verifyObject(c: S3Connection, bucket: string, key: string, expected: string, versionId?: string): Promise<{ size: number; sha256: string }> {
    const got = await objectSha256(c, bucket, key, versionId);
    if (got.sha256 !== expected) {
        throw new Error(`S3 ${c.endpoint ?? "AWS"}: s3://${bucket}/${key}${versionId ? `?versionId=${versionId}` : ""} read back sha256 ${got.sha256}, expected ${expected}`);
    }
    return got;
}

/** Deletes every version and delete marker of exactly `key`. Resolves with how many went. */
export async function deleteAllVersions(c: S3Connection, bucket: string, key: string): Promise<number> {
    const s3 = s3Client(c);
    let deleted = 0;
    try {
        await s3Call(c, `deleting s3://${bucket}/${key}`, async () => {
            let keyMarker: string | undefined;
            let versionIdMarker: string | undefined;
            do {
                const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
                const ids = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
                    .filter((v) => v.Key === key)
                    .map((v) => ({ Key: key, VersionId: v.VersionId }));
                if (ids.length) {
                    const r = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: ids, Quiet: true } }));
                    if (r.Errors?.length) throw new Error(r.Errors.map((e) => `${e.Key}@${e.VersionId}: ${e.Code} ${e.Message}`).join("; "));
                    deleted += ids.length;
                }
                keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
                versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
            } while (keyMarker);
        });
    } catch (e) {
        if (s3ErrorName(e) === "NoSuchBucket") return deleted;
        throw e;
    } finally {
        s3.destroy();
    }
    return deleted;
}

/**
 * A reproducible .tgz of a folder (sorted names, fixed times and owners, gzip
 * without a timestamp), so the same folder always gives the same sha256 and an
 * unchanged recipe is not uploaded again. Written to a temp name, then renamed.
 */
export async function tarGzDirectory(dir: string, outFile: string): Promise<void> {
    const stat = await fs.stat(dir).catch(() => undefined);
    if (!stat?.isDirectory()) throw new Error(`${dir}: not a folder`);
    const tmp = path.join(path.dirname(outFile), `.${path.basename(outFile)}.${process.pid}.tmp`);
    const tar = path.join(path.dirname(outFile), `.${path.basename(outFile)}.${process.pid}.tar`);
    try {
        await run("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--format=posix",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime", "-cf", tar, "-C", dir, "."]);
        // Node's gzip header carries no name and no time: same bytes in, same bytes out.
        await pipeline(createReadStream(tar), createGzip({ level: 6 }), createWriteStream(tmp));
        await fs.rename(tmp, outFile);
    } finally {
        await fs.rm(tmp, { force: true });
        await fs.rm(tar, { force: true });
    }
}

