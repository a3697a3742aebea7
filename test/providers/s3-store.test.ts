// S3Bucket and ArtifactObject provider methods against a real S3 server (versitygw).
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GetBucketVersioningCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider as objectProvider, type ArtifactObjectOutputs } from "../../components/storage/artifact-object.provider";
import { provider as bucketProvider } from "../../components/storage/s3-bucket.provider";
import { s3Client } from "../../components/storage/s3";
import { verifyObject } from "../../components/storage/upload";
import type { RunningS3 } from "../../scripts/services/s3";
import { testS3 } from "../support/s3";

let s3: RunningS3;
let work: string;
const location = () => ({ endpoint: s3.endpoint, region: "us-east-1", pathStyle: true });
const credentials = () => ({ accessKeyId: s3.connection.accessKeyId, secretAccessKey: s3.connection.secretAccessKey });

beforeAll(async () => {
    s3 = await testS3();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-store-"));
});
afterAll(async () => {
    await s3?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
});

describe("S3Bucket", () => {
    it("check names the bad bucket name and endpoint", async () => {
        const r = await bucketProvider.check({}, { name: "Boot_Images", s3: { endpoint: "ftp://x", region: "r", pathStyle: true }, noncurrentVersionDays: 0 });
        expect(r.failures?.map((f) => f.property)).toEqual(["name", "s3", "noncurrentVersionDays"]);
        expect(r.failures?.[0].reason).toMatch(/bucket name must be 3-63 characters .* got "Boot_Images"/);
    });

    it("creates a versioned bucket, says what the server could not apply, adopts it again, and deletes it (forceDestroy empties it)", async () => {
        const inputs = { name: "boot-images", s3: location(), credentials: credentials(), noncurrentVersionDays: 30, forceDestroy: false };
        const { id, outs } = await bucketProvider.create(inputs);
        expect(id).toBe("boot-images");
        // versitygw 1.8 has no public access block or lifecycle API (501 NotImplemented);
        // the provider checked that an anonymous request is refused instead.
        expect(outs).toMatchObject({ versioning: "Enabled", publicAccessBlock: "unsupported by the server", lifecycle: "unsupported by the server", url: `${s3.endpoint}/boot-images/` });
        const client = s3Client(s3.connection);
        expect((await client.send(new GetBucketVersioningCommand({ Bucket: "boot-images" }))).Status).toBe("Enabled");
        const anonymous = await fetch(`${s3.endpoint}/boot-images/`);
        expect(anonymous.status).toBe(403);

        // An interrupted `up` may have made it already: create converges on it.
        await expect(bucketProvider.create(inputs)).resolves.toMatchObject({ id: "boot-images" });
        expect(await bucketProvider.read!(id, outs)).toMatchObject({ id, props: { versioning: "Enabled" } });

        // Not empty (two versions of one key): delete refuses, naming the bucket and endpoint.
        const file = path.join(work, "kernel");
        await fs.writeFile(file, "v1");
        const obj = { bucket: "boot-images", key: "x/kernel", s3: location(), credentials: credentials(), source: { file } };
        const o1 = (await objectProvider.create((await objectProvider.check({}, obj)).inputs)).outs as ArtifactObjectOutputs;
        await fs.writeFile(file, "v2");
        await objectProvider.update!(o1.uri, o1, (await objectProvider.check(o1, obj)).inputs);
        await expect(bucketProvider.delete(id, outs)).rejects.toThrow(`S3 ${s3.endpoint}: deleting bucket boot-images failed: bucket boot-images still holds objects`);
        await bucketProvider.delete(id, { ...outs, forceDestroy: true });
        expect(await bucketProvider.read!(id, outs)).toEqual({ id: "", props: {} });
        client.destroy();
    });
});

describe("ArtifactObject", () => {
    beforeAll(async () => {
        await bucketProvider.create({ name: "ims", s3: location(), credentials: credentials(), noncurrentVersionDays: 30, forceDestroy: true });
    });

    it("publishes a folder as a .tgz, sees a changed file in check, skips unchanged content, and deletes every version", async () => {
        const recipe = path.join(work, "recipe");
        await fs.mkdir(path.join(recipe, "root"), { recursive: true });
        await fs.writeFile(path.join(recipe, "config.xml"), "<image schemaversion='7.4' name='demo'/>\n");
        await fs.writeFile(path.join(recipe, "root/hello"), "hi\n");
        const news = { bucket: "ims", key: "recipes/demo.tgz", s3: location(), credentials: credentials(), source: { directory: recipe } };

        const checked = await objectProvider.check({}, news);
        expect(checked.failures).toEqual([]);
        expect(checked.inputs.sha256).toMatch(/^[0-9a-f]{64}$/);
        const { id, outs } = await objectProvider.create(checked.inputs);
        const o = outs as ArtifactObjectOutputs;
        expect(id).toBe("s3://ims/recipes/demo.tgz");
        expect(o).toMatchObject({ sha256: checked.inputs.sha256, contentType: "application/gzip", url: `${s3.endpoint}/ims/recipes/demo.tgz` });
        await verifyObject(s3.connection, "ims", "recipes/demo.tgz", o.sha256);

        // Unchanged: no diff.
        expect((await objectProvider.diff!(id, o, (await objectProvider.check(o, news)).inputs)).changes).toBe(false);
        // Changed file in the folder: check hashes it, diff says update (not replace).
        await fs.writeFile(path.join(recipe, "root/hello"), "hello\n");
        const changed = (await objectProvider.check(o, news)).inputs;
        expect(await objectProvider.diff!(id, o, changed)).toMatchObject({ changes: true, replaces: [] });
        const updated = (await objectProvider.update!(id, o, changed)).outs as ArtifactObjectOutputs;
        expect(updated.versionId).not.toBe(o.versionId);
        expect((await objectProvider.read!(id, updated)).props).toMatchObject({ sha256: updated.sha256, versionId: updated.versionId });

        await objectProvider.delete(id, updated);
        const client = s3Client(s3.connection);
        const left = await client.send(new ListObjectVersionsCommand({ Bucket: "ims", Prefix: "recipes/" }));
        expect([...(left.Versions ?? []), ...(left.DeleteMarkers ?? [])]).toEqual([]);
        client.destroy();
        expect(await objectProvider.read!(id, updated)).toEqual({ id: "", props: {} });
    });

    it("check names a missing source, and both or neither of file and directory", async () => {
        const base = { bucket: "ims", key: "k", s3: location(), credentials: credentials() };
        const missing = await objectProvider.check({}, { ...base, source: { file: path.join(work, "nope.raw") } });
        expect(missing.failures).toEqual([{ property: "source", reason: `source.file ${path.join(work, "nope.raw")}: does not exist` }]);
        const both = await objectProvider.check({}, { ...base, source: { file: "/a", directory: "/b" } });
        expect(both.failures?.[0].reason).toMatch(/exactly one of file or directory/);
        const relative = await objectProvider.check({}, { ...base, key: "/abs", source: { file: "rel" } });
        expect(relative.failures?.map((f) => f.property)).toEqual(["key", "source"]);
    });
});
