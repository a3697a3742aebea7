// Faults while the real engine publishes to a real S3 server (versitygw): the whole
// up killed during a multipart upload, the server stopped during one, and an
// object replaced by hand. Each ends with what `npm run up` does (recover, then
// up with a refresh), which must converge: exit 0, `preview --expect-no-changes`
// clean, the object matching its recorded sha256, no unfinished multipart upload,
// no pending operation, no temp folder of a dead process.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { sha256File } from "../../components/hash";
import { s3Client } from "../../components/storage/s3";
import { headObject, verifyObject } from "../../components/storage/upload";
import { generateS3Credentials, type RunningS3, startS3Server } from "../../scripts/services/s3";
import { expectConverged, killUp, recoverAndUp, refresh, startUp, waitFor } from "./faults-harness";
import { ROOT, TestStack } from "./harness";

const BUCKET = "prestage";
const KEY = "disks/edge.raw";
const MiB = 1024 * 1024;
const PARTS = 32;

describe("faults on the real engine: S3 uploads killed, the server stopped, an object replaced", () => {
    let s3: RunningS3;
    let dataDir: string;
    let stack: TestStack;
    let file: string;
    const credentials = generateS3Credentials();
    const said: string[] = [];

    const unfinishedUploads = async () => {
        const c = s3Client(s3.connection, { maxAttempts: 1 });
        try {
            const r = await c.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
            return (r.Uploads ?? []).filter((u) => u.Key === KEY);
        } catch {
            return []; // the bucket is not made yet
        } finally {
            c.destroy();
        }
    };
    /** Parts uploaded so far of the file's one unfinished upload (-1: none yet). */
    const partsUploaded = async () => {
        const [u] = await unfinishedUploads();
        if (!u) return -1;
        const c = s3Client(s3.connection, { maxAttempts: 1 });
        try {
            return ((await c.send(new ListPartsCommand({ Bucket: BUCKET, Key: KEY, UploadId: u.UploadId }))).Parts ?? []).length;
        } catch {
            return -1;
        } finally {
            c.destroy();
        }
    };
    /** Midway: some parts are on the server, most are not (so that the upload cannot have been completed). */
    const midUpload = async () => {
        const n = await partsUploaded();
        return n >= 1 && n <= PARTS / 2;
    };
    /** New content for the published file: incompressible, PARTS parts of 16 MiB. */
    const writeFile = async (size = PARTS * 16 * MiB) => {
        const h = await fs.open(file, "w");
        for (let done = 0; done < size; done += 16 * MiB) await h.write(randomBytes(16 * MiB));
        await h.close();
        return sha256File(file);
    };
    const converged = async () => {
        await expectConverged(stack, { prefixes: ["if-artifact-", "if-state-"] });
        const { fileSha256 } = await stack.outputs();
        expect(fileSha256).toBe(await sha256File(file));
        await verifyObject(s3.connection, BUCKET, KEY, fileSha256);
        expect(await unfinishedUploads()).toEqual([]);
    };

    beforeAll(async () => {
        dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "if-s3-faults-"));
        s3 = await startS3Server({ dataDir, credentials });
        stack = await TestStack.create({
            from: path.join(ROOT, "test/e2e/fixtures/artifacts"),
            files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"],
            stack: "faults-s3",
        });
        const recipeDir = path.join(stack.dir, "recipe");
        await fs.mkdir(recipeDir);
        await fs.writeFile(path.join(recipeDir, "config.xml"), "<image name='demo'/>\n");
        file = path.join(stack.dir, "edge.raw");
        await stack.setConfig("endpoint", s3.endpoint);
        await stack.setConfig("recipeDir", recipeDir);
        await stack.setConfig("file", file);
        await stack.setSecret("accessKey", credentials.accessKeyId);
        await stack.setSecret("secretKey", credentials.secretAccessKey);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await s3?.stop();
        if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    });

    it("SIGKILL of the whole up's process group during a multipart upload: the next up aborts the abandoned upload and converges", async () => {
        await writeFile();
        const up = await startUp(stack, "s3-killed");
        await waitFor("a multipart upload of the file, midway", midUpload, 10 * 60_000, 50);
        await killUp(up);
        // What the kill left: the multipart upload (its parts on the server) and no object.
        expect(await unfinishedUploads()).toHaveLength(1);
        expect(await headObject(s3.connection, BUCKET, KEY)).toBeUndefined();

        said.length = 0;
        const r = await recoverAndUp(stack, "artifacts", said);
        expect(said.join("\n")).toMatch(/the last update was interrupted while .*creating file.*; clearing its \d+ pending operation/);
        expect(r.stdout).toMatch(/s3:\/\/prestage\/disks\/edge\.raw: aborted 1 unfinished multipart upload\(s\) left by an interrupted upload/);
        await converged();
    });

    it("the S3 server stopped during an upload: the up fails naming host:port, nothing is recorded as done; after a restart the next up converges", async () => {
        const before = (await stack.outputs()).fileSha256;
        await writeFile();
        const up = stack.up().then(
            () => undefined,
            (e: ExecError) => e,
        );
        await waitFor("a multipart upload of the new content, midway", midUpload, 10 * 60_000, 50);
        await s3.stop();
        const err = await up;
        expect(err).toBeInstanceOf(ExecError);
        const output = `${err!.stdout}\n${err!.stderr}`;
        const hostPort = s3.endpoint.replace("http://", "");
        const named = new RegExp(`S3 http://${hostPort.replace(/\./g, "\\.")}: uploading \\S+edge\\.raw to s3://prestage/disks/edge\\.raw failed: cannot reach the server \\(E[A-Z]+\\).*`);
        expect(output).toMatch(named);
        console.log(`the up failed with: ${named.exec(output)![0]}`);
        expect(output).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
        // The failed update recorded nothing: the state still has the old content's sha256.
        expect((await stack.outputs()).fileSha256).toBe(before);

        s3 = await startS3Server({ dataDir, credentials, address: hostPort });
        said.length = 0;
        const r = await recoverAndUp(stack, "artifacts", said);
        expect(r.stdout).toMatch(/aborted 1 unfinished multipart upload\(s\) left by an interrupted upload/);
        await converged();
    });

    it("an object replaced by hand: refresh reads its real content, preview shows the update, the next up puts it back", async () => {
        const c = s3Client(s3.connection);
        await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: "replaced by hand\n" }));
        c.destroy();
        const recorded = (await stack.outputs()).fileSha256;

        const r = await refresh(stack);
        expect(r.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:ArtifactObject: \(update\)\n\s+\[id=s3:\/\/prestage\/disks\/edge\.raw\]/);
        expect(r.stdout).toMatch(/~ sha256 +: "[0-9a-f]{64}" => "[0-9a-f]{64}"/);
        const file = (await stack.resources()).find((res) => res.urn.endsWith("::file"))!;
        expect(file.outputs!.sha256).not.toBe(recorded);
        expect(file.outputs!.size).toBe("replaced by hand\n".length);
        const p = await stack.preview(["--diff"]);
        expect(p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:ArtifactObject: \(update\)/);

        await recoverAndUp(stack, "artifacts", said);
        await converged();
    });
});
