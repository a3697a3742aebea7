// A PreStagedDisk on the real engine: up makes the disk, a second up and
// `preview --expect-no-changes` change nothing, a moved tag shows as an update
// in preview, the registry password and the fleet's signing key never reach
// state in plaintext, the disk's manifest is signed (openssl verifies it with
// the public key), and destroy removes the file and its signed manifest.
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256File } from "../../components/hash";
import { run } from "../../components/exec";
import { readPartitionTable } from "../../components/prestage/build";
import { generateSigningKey } from "../../components/supply-chain/sigstore";
import { pushImage, type PushedImage } from "../support/images";
import { testRegistry } from "../support/registry";
import { ROOT, TestStack } from "./harness";

const PASSWORD = "e2e-registry-password-7f3a";
const FLEET = generateSigningKey();
/** A line from the middle of the private key's PEM body: what plaintext in state would contain. */
const KEY_LINE = FLEET.privateKey.split("\n")[2];

describe("PreStagedDisk on the real engine", () => {
    let reg: Awaited<ReturnType<typeof testRegistry>>;
    let stack: TestStack;
    let out: string;
    let httpd: PushedImage;
    let base: PushedImage;

    beforeAll(async () => {
        reg = await testRegistry();
        httpd = await pushImage(reg.address, "demo/httpd", "1.0", { "srv/index.html": "hi\n" }, 512 * 1024);
        base = await pushImage(reg.address, "demo/base", "1.0", { "etc/os-release": "ID=demo\n" });
        out = await fs.mkdtemp(path.join(os.tmpdir(), "if-e2e-disks-"));
        stack = await TestStack.create({
            from: path.join(ROOT, "test/e2e/fixtures/prestage"),
            files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"],
            stack: "prestage",
        });
        await stack.setConfig("path", path.join(out, "edge.raw"));
        await stack.setConfig("size", "1GiB");
        await stack.setConfig("registry", reg.address);
        await stack.setConfig("registryPassword", PASSWORD, true);
        await stack.setSecret("signingKey", FLEET.privateKey);
        await stack.pulumi(["config", "set", "publicKey", "--non-interactive"], { input: FLEET.publicKey });
        await stack.pulumi(["config", "set", "--path", "contentSets.ai-images[0]", httpd.ref]);
        await stack.pulumi(["config", "set", "--path", "contentSets.ai-images[1]", base.tagged]);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await reg?.stop();
        if (out) await fs.rm(out, { recursive: true, force: true });
    });

    it("up makes the disk; its outputs describe the file", async () => {
        await stack.up();
        const o = await stack.outputs();
        expect(o.path).toBe(path.join(out, "edge.raw"));
        expect(o.sha256).toBe(await sha256File(o.path));
        expect(o.size).toBe(1024 ** 3);
        const table = await readPartitionTable(o.path);
        expect(o.partition).toMatchObject({ start: table.start, end: table.end, label: "data", filesystem: "xfs" });
        expect(table.end).toBe(table.lastUsable);
        expect(o.manifest.map((m: any) => m.digest)).toEqual([httpd.digest, base.digest]);
        expect(await fs.readdir(out)).toEqual(["edge.raw", "edge.raw.manifest.json", "edge.raw.manifest.json.sig"]);
        // Verified as docs/guide.md says: openssl, the public key, the signature and the manifest beside the disk.
        const pub = path.join(out, "..", `${path.basename(out)}.pub`);
        await fs.writeFile(pub, FLEET.publicKey);
        try {
            const v = await run("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", o.manifestSignature.path, o.manifestSignature.manifestPath]);
            expect(v.stdout.trim()).toBe("Verified OK");
        } finally {
            await fs.rm(pub, { force: true });
        }
    });

    it("the registry password is a secret in state", async () => {
        const state = JSON.stringify(await stack.resources());
        expect(state).not.toContain(PASSWORD);
        expect(state).not.toContain(KEY_LINE);
        const disk = (await stack.resources()).find((r) => r.type === "pulumi-nodejs:dynamic/image-factory:PreStagedDisk")!;
        expect(JSON.stringify(disk.outputs!.credentials)).toContain("4dabf18193072939515e22adb298388d");
    });

    it("a second up changes nothing (nothing is signed again): preview --expect-no-changes passes", async () => {
        const before = (await fs.stat(path.join(out, "edge.raw"))).mtimeMs;
        const sigBefore = (await fs.stat(path.join(out, "edge.raw.manifest.json.sig"))).mtimeMs;
        const r = await stack.up();
        expect(r.stdout).toMatch(/\d+ unchanged/);
        expect(r.stdout).not.toMatch(/\d+ (created|updated|deleted|replaced)/);
        await stack.preview(["--expect-no-changes"]);
        expect((await fs.stat(path.join(out, "edge.raw"))).mtimeMs).toBe(before);
        expect((await fs.stat(path.join(out, "edge.raw.manifest.json.sig"))).mtimeMs).toBe(sigBefore);
    });

    it("a moved tag shows in preview as an update of the disk", async () => {
        const moved = await pushImage(reg.address, "demo/base", "1.0", { "etc/os-release": "ID=demo\nVERSION=2\n" });
        const p = await stack.preview(["--diff"]);
        expect(p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:PreStagedDisk: \(update\)/);
        expect(p.stdout).toContain(moved.digest);
    });

    it("destroy removes the disk", async () => {
        await stack.destroy();
        expect(existsSync(path.join(out, "edge.raw"))).toBe(false);
        expect(await fs.readdir(out)).toEqual([]);
        expect(await stack.resources()).toEqual([]);
    });
});
