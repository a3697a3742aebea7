// Uploads against a real S3 server (versitygw on a free loopback port).
import { createHash, randomBytes } from "node:crypto";
import { promises as fs, createWriteStream } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { finished } from "node:stream/promises";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3Client } from "../../components/storage/s3";
import { sha256File } from "../../components/hash";
import { deleteAllVersions, headObject, tarGzDirectory, uploadFile, verifyObject } from "../../components/storage/upload";
import { freePort } from "../../scripts/services/registry";
import { testS3 } from "../support/s3";
import type { RunningS3 } from "../../scripts/services/s3";

const MiB = 1024 * 1024;
let s3: RunningS3;
let work: string;
const bucket = "uploads-test";

/** A file of `size` random bytes (random, so no layer can compress or dedupe it). */
async function randomFile(file: string, size: number): Promise<string> {
    const out = createWriteStream(file);
    const hash = createHash("sha256");
    for (let left = size; left > 0; ) {
        const chunk = randomBytes(Math.min(left, 4 * MiB));
        hash.update(chunk);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
        left -= chunk.length;
    }
    out.end();
    await finished(out);
    return hash.digest("hex");
}

beforeAll(async () => {
    s3 = await testS3();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-upload-"));
    const client = s3Client(s3.connection);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
    client.destroy();
});

afterAll(async () => {
    await s3?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
});

describe("uploadFile against a real S3 server", () => {
    it("uploads a 101 MiB file in parts, verifies it on read back, and skips a second upload of the same content", async () => {
        const file = path.join(work, "disk.raw");
        const size = 101 * MiB;
        const expected = await randomFile(file, size);
        let lastProgress = 0;
        const started = Date.now();
        const first = await uploadFile(s3.connection, { bucket, key: "disks/disk.raw", file, partSize: 16 * MiB, onProgress: (l) => (lastProgress = l) });
        const seconds = (Date.now() - started) / 1000;
        console.log(`uploaded ${size / MiB} MiB in ${seconds.toFixed(1)}s (${(size / MiB / seconds).toFixed(0)} MiB/s, sha256 included)`);
        expect(first).toMatchObject({ skipped: false, size, sha256: expected });
        expect(first.versionId).toBeTruthy();
        expect(lastProgress).toBe(size);

        // Multipart: the ETag of a multipart object is "<md5 of part md5s>-<parts>".
        const head = await headObject(s3.connection, bucket, "disks/disk.raw");
        expect(head?.etag).toMatch(/-7"?$/);
        expect(head?.sha256).toBe(expected);
        expect(await verifyObject(s3.connection, bucket, "disks/disk.raw", expected)).toEqual({ size, sha256: expected });
        await expect(verifyObject(s3.connection, bucket, "disks/disk.raw", "0".repeat(64))).rejects.toThrow(/read back sha256 [0-9a-f]{64}, expected 0{64}/);

        const second = await uploadFile(s3.connection, { bucket, key: "disks/disk.raw", file });
        expect(second).toMatchObject({ skipped: true, sha256: expected, versionId: first.versionId });

        // Changed content is uploaded again, as a new version.
        await fs.appendFile(file, "x");
        const third = await uploadFile(s3.connection, { bucket, key: "disks/disk.raw", file });
        expect(third.skipped).toBe(false);
        expect(third.versionId).not.toBe(first.versionId);
        expect(await deleteAllVersions(s3.connection, bucket, "disks/disk.raw")).toBe(2);
        expect(await headObject(s3.connection, bucket, "disks/disk.raw")).toBeUndefined();
    });

    it("an interrupted upload leaves no visible object and no open multipart upload", async () => {
        const file = path.join(work, "big.raw");
        await randomFile(file, 60 * MiB);
        const abort = new AbortController();
        const upload = uploadFile(s3.connection, {
            bucket,
            key: "disks/interrupted.raw",
            file,
            partSize: 5 * MiB,
            queueSize: 1,
            signal: abort.signal,
            onProgress: (loaded) => {
                if (loaded >= 10 * MiB) abort.abort(new Error("interrupted by the test"));
            },
        });
        await expect(upload).rejects.toThrow(/uploading .*big\.raw to s3:\/\/uploads-test\/disks\/interrupted\.raw failed/);
        const client = s3Client(s3.connection);
        try {
            const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "disks/" }));
            expect(listed.Contents ?? []).toEqual([]);
            const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
            expect(open.Uploads ?? []).toEqual([]);
        } finally {
            client.destroy();
        }
    });

    it("a wrong credential is reported with the endpoint, and the secret is not in the message", async () => {
        const file = path.join(work, "small.txt");
        await fs.writeFile(file, "hello");
        const wrong = { ...s3.connection, secretAccessKey: "not-the-secret-key-0123456789" };
        const err = await uploadFile(wrong, { bucket, key: "small.txt", file }).catch((e: Error) => e);
        expect(err).toBeInstanceOf(Error);
        // The first request of an upload clears the key's unfinished multipart uploads (a killed up's leftovers).
        expect((err as Error).message).toMatch(
            new RegExp(`^S3 ${s3.endpoint}: aborting unfinished uploads of s3://uploads-test/small.txt failed: the server (rejected the credentials|refused the request \\(HTTP 403\\): the credentials are wrong)`),
        );
        expect((err as Error).message).not.toContain(wrong.secretAccessKey);
    });

    it("a server that is down is reported with the endpoint", async () => {
        const file = path.join(work, "small.txt");
        await fs.writeFile(file, "hello");
        const endpoint = `http://127.0.0.1:${await freePort()}`;
        const err = await uploadFile({ ...s3.connection, endpoint }, { bucket, key: "small.txt", file }).catch((e: Error) => e);
        expect((err as Error).message).toBe(
            `S3 ${endpoint}: aborting unfinished uploads of s3://uploads-test/small.txt failed: cannot reach the server (ECONNREFUSED); is it running and is the endpoint right?`,
        );
    });

    it("a folder becomes a reproducible .tgz: the same folder gives the same sha256, so its upload is skipped", async () => {
        const recipe = path.join(work, "recipe");
        await fs.mkdir(path.join(recipe, "root/etc"), { recursive: true });
        await fs.writeFile(path.join(recipe, "config.xml"), "<image name='demo'/>\n");
        await fs.writeFile(path.join(recipe, "root/etc/motd"), "hello\n");
        const a = path.join(work, "a.tgz");
        const b = path.join(work, "b.tgz");
        await tarGzDirectory(recipe, a);
        await fs.utimes(path.join(recipe, "config.xml"), new Date(), new Date()); // times do not matter
        await tarGzDirectory(recipe, b);
        expect(await sha256File(a)).toBe(await sha256File(b));
        const first = await uploadFile(s3.connection, { bucket, key: "recipes/demo.tgz", file: a, contentType: "application/gzip" });
        const second = await uploadFile(s3.connection, { bucket, key: "recipes/demo.tgz", file: b, contentType: "application/gzip" });
        expect([first.skipped, second.skipped]).toEqual([false, true]);
        await verifyObject(s3.connection, bucket, "recipes/demo.tgz", first.sha256);
        await expect(tarGzDirectory(path.join(work, "nope"), path.join(work, "c.tgz"))).rejects.toThrow(/nope: not a folder/);
    });
});
