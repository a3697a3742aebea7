// The toolchain on the real engine: preview, up, a second up that changes
// nothing, an update, and destroy, for a stack with a dynamic resource and a
// command-provider resource (the plugin built by scripts/toolchain.sh).
import { createHash } from "node:crypto";
import { existsSync, promises as fs, readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { ROOT, TestStack } from "./harness";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("foundation: the real engine", () => {
    let stack: TestStack;
    let markerPath: string;

    beforeAll(async () => {
        stack = await TestStack.create({
            from: path.join(ROOT, "test/e2e/fixtures/foundation"),
            files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"],
            stack: "foundation",
        });
        markerPath = path.join(stack.dir, "out", "marker.txt");
        await stack.setConfig("markerPath", markerPath);
        await stack.setConfig("content", "hello");
    });
    afterAll(async () => {
        await stack?.cleanup();
    });

    it("`npm run pulumi -- version` prints the version pinned in .pulumi.version", async () => {
        const r = await run("npm", ["run", "--silent", "pulumi", "--", "version"], { cwd: ROOT });
        expect(r.stdout.trim()).toBe(`v${readFileSync(path.join(ROOT, ".pulumi.version"), "utf8").trim()}`);
    });

    it("previews the creation without creating anything", async () => {
        const r = await stack.preview(["--diff"]);
        expect(r.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/image-factory:LocalFile: \(create\)/);
        expect(r.stdout).toMatch(/\+ \d+ to create/);
        expect(existsSync(markerPath)).toBe(false);
    });

    it("up creates the resources; outputs hold the file's checksum", async () => {
        await stack.up();
        expect(await fs.readFile(markerPath, "utf8")).toBe("hello");
        const out = await stack.outputs();
        expect(out.markerSha256).toBe(sha("hello"));
        expect(out.echoed).toBe("hello");
        const types = (await stack.resources()).map((r) => r.type);
        expect(types).toContain("pulumi-nodejs:dynamic/image-factory:LocalFile");
        expect(types).toContain("command:local:Command");
    });

    it("a second up changes nothing: preview --expect-no-changes passes", async () => {
        const r = await stack.up();
        expect(r.stdout).toMatch(/\d+ unchanged/);
        expect(r.stdout).not.toMatch(/\d+ (created|updated|deleted|replaced)/);
        await stack.preview(["--expect-no-changes"]);
    });

    it("a changed input shows in preview --diff and updates in place", async () => {
        await stack.setConfig("content", "hello again");
        const p = await stack.preview(["--diff"]);
        expect(p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:LocalFile: \(update\)[\s\S]*LocalFile::marker\]/);
        expect(p.stdout).toMatch(/~ content: "hello" => "hello again"/);
        // The command provider's own diff: its create command changed, so it runs again.
        expect(p.stdout).toMatch(/~ command:local:Command: \(update\)[\s\S]*~ create: "hello" => "hello again"/);
        expect(p.stdout).toMatch(/~ 2 to update/);
        await stack.up();
        expect(await fs.readFile(markerPath, "utf8")).toBe("hello again");
        expect((await stack.outputs()).echoed).toBe("hello again");
    });

    it("destroy removes what the stack created", async () => {
        await stack.destroy();
        expect(existsSync(markerPath)).toBe(false);
        expect(await stack.resources()).toEqual([]);
    });

    it("`npm run pulumi -- plugin ls` lists the plugins at exactly the versions the npm SDKs ask for", async () => {
        const r = await run("npm", ["run", "--silent", "pulumi", "--", "plugin", "ls"], { cwd: ROOT });
        for (const sdk of ["@pulumi/kubernetes", "@pulumi/command"]) {
            const { pulumi: plugin } = JSON.parse(readFileSync(path.join(ROOT, "node_modules", sdk, "package.json"), "utf8")) as { pulumi: { name: string; version: string } };
            expect(r.stdout).toMatch(new RegExp(`^${plugin.name}\\s+resource\\s+${plugin.version.replace(/\./g, "\\.")}\\s`, "m"));
        }
    });
});
