// The artifact store on the real engine against a real S3 server: up makes the
// three buckets and publishes a folder, a second up changes nothing, a changed
// file updates the object in place, the credentials are secrets in state, and
// destroy removes it all (delete runs the provider code named in state).
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3Client } from "../../components/storage/s3";
import { headObject, verifyObject } from "../../components/storage/upload";
import type { RunningS3 } from "../../scripts/services/s3";
import { testS3 } from "../support/s3";
import { ROOT, TestStack } from "./harness";

/** How exported state marks a secret value (its ciphertext sits beside it). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

describe("artifact store: the real engine", () => {
    let s3: RunningS3;
    let stack: TestStack;
    let recipeDir: string;

    const bucketNames = async () => {
        const c = s3Client(s3.connection);
        const r = await c.send(new ListBucketsCommand({}));
        c.destroy();
        return (r.Buckets ?? []).map((b) => b.Name).sort();
    };

    beforeAll(async () => {
        s3 = await testS3();
        stack = await TestStack.create({
            from: path.join(ROOT, "test/e2e/fixtures/artifacts"),
            files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"],
            stack: "artifacts",
        });
        recipeDir = path.join(stack.dir, "recipe");
        await fs.mkdir(recipeDir);
        await fs.writeFile(path.join(recipeDir, "config.xml"), "<image name='demo'/>\n");
        await stack.setConfig("endpoint", s3.endpoint);
        await stack.setConfig("recipeDir", recipeDir);
        await stack.setSecret("accessKey", s3.connection.accessKeyId);
        await stack.setSecret("secretKey", s3.connection.secretAccessKey);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await s3?.stop();
    });

    it("up makes the buckets and publishes the folder; the credentials are secrets in state", async () => {
        await stack.up();
        expect(await bucketNames()).toEqual(["boot-images", "ims", "prestage"]);
        const out = await stack.outputs();
        expect(out.buckets).toEqual({ recipes: "ims", bootImages: "boot-images", prestage: "prestage" });
        expect(out.recipeUri).toBe("s3://ims/recipes/demo.tgz");
        await verifyObject(s3.connection, "ims", "recipes/demo.tgz", out.recipeSha256);

        const state = (await stack.pulumi(["stack", "export"])).stdout;
        expect(state).not.toContain(s3.connection.secretAccessKey);
        expect(state).not.toContain(s3.connection.accessKeyId);
        const dynamic = (await stack.resources()).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/image-factory:"));
        expect(dynamic.map((r) => r.type).sort()).toEqual([
            "pulumi-nodejs:dynamic/image-factory:ArtifactObject",
            ...Array(3).fill("pulumi-nodejs:dynamic/image-factory:S3Bucket"),
        ]);
        for (const r of dynamic) expect(JSON.stringify(r.outputs?.credentials)).toContain(SECRET_SIG_KEY);
    });

    it("a second up changes nothing", async () => {
        const r = await stack.up();
        expect(r.stdout).toMatch(/\d+ unchanged/);
        expect(r.stdout).not.toMatch(/\d+ (created|updated|deleted|replaced)/);
    });

    it("a changed file in the folder shows in preview and updates the object in place", async () => {
        await fs.writeFile(path.join(recipeDir, "config.xml"), "<image name='demo' version='2'/>\n");
        const p = await stack.preview(["--diff"]);
        expect(p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:ArtifactObject: \(update\)/);
        expect(p.stdout).toMatch(/~ sha256/);
        const before = (await stack.outputs()).recipeSha256;
        const r = await stack.up();
        expect(r.stdout).toMatch(/1 updated/);
        const after = (await stack.outputs()).recipeSha256;
        expect(after).not.toBe(before);
        expect((await headObject(s3.connection, "ims", "recipes/demo.tgz"))?.sha256).toBe(after);
    });

    it("destroy deletes the object (every version) and the buckets", async () => {
        await stack.destroy();
        expect(await bucketNames()).toEqual([]);
    });
});
