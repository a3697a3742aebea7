// Faults injected into real `pulumi up`s (real engine, real registry, a real
// pre-staged disk), each followed by what `npm run up` does — recover what the
// fault left (scripts/recover.ts), then up with a refresh — which must converge
// with no manual step: exit 0, `preview --expect-no-changes` clean, the disk
// matching its recorded sha256, no temp files left. Also: a disk edited by hand.
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { sha256File } from "../../components/hash";
import { lockDir } from "../../scripts/recover";
import { pushImage } from "../support/images";
import { testRegistry } from "../support/registry";
import { expectConverged, killUp, recoverAndUp as recoverAndUpOn, refresh, startUp as startUpOn, waitFor } from "./faults-harness";
import { ROOT, TestStack } from "./harness";

const PASSWORD = "e2e-faults-password";

describe("faults on the real engine: a killed up, two ups at once, a full disk", () => {
    let reg: Awaited<ReturnType<typeof testRegistry>>;
    let stack: TestStack;
    let out: string;
    let small: string | undefined;
    const said: string[] = [];
    const disk = () => path.join(out, "edge.raw");

    const startUp = (name: string) => startUpOn(stack, name);
    const recoverAndUp = () => recoverAndUpOn(stack, "prestage", said);
    /** Every convergence check but the up itself. */
    const converged = async () => {
        await expectConverged(stack, { prefixes: ["if-auth-", "if-state-"] });
        const o = await stack.outputs();
        expect(o.sha256).toBe(await sha256File(o.path));
        // No stray temp files: the disk's folder holds the disk only.
        expect(await fs.readdir(out)).toEqual(["edge.raw"]);
    };

    beforeAll(async () => {
        reg = await testRegistry();
        // The smallest content that still makes the provider fetch, archive and write.
        const image = await pushImage(reg.address, "demo/app", "1.0", { "srv/index.html": "hi\n" }, 2 * 1024 * 1024);
        out = await fs.mkdtemp(path.join(os.tmpdir(), "if-e2e-faults-"));
        stack = await TestStack.create({
            from: path.join(ROOT, "test/e2e/fixtures/prestage"),
            files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"],
            stack: "faults",
        });
        await stack.setConfig("path", disk());
        await stack.setConfig("size", "1GiB");
        await stack.setConfig("registry", reg.address);
        await stack.setConfig("registryPassword", PASSWORD, true);
        await stack.pulumi(["config", "set", "--path", "contentSets.apps[0]", image.ref]);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await reg?.stop();
        if (small) {
            await run("umount", [small]).catch(() => undefined);
            await fs.rm(small, { recursive: true, force: true });
        }
        if (out) await fs.rm(out, { recursive: true, force: true });
    });

    it("SIGKILL of the whole up's process group while the disk is written: the next up clears the lock and the pending create, and converges", async () => {
        const up = await startUp("killed");
        // Mid-write: the provider's work folder next to the disk exists (it is renamed into place at the end).
        await waitFor("the disk's work folder", async () => (await fs.readdir(out)).some((f) => /^\.edge\.raw\..*\.tmp$/.test(f)));
        await killUp(up);
        // The fault really left what a killed up leaves: a lock of a dead process, a pending create.
        const locks = (await fs.readdir(lockDir(stack.backendDir, "prestage", stack.stack))).filter((f) => f.endsWith(".json"));
        expect(locks).toHaveLength(1);
        const plain = await stack.pulumi(["up", "--yes", "--skip-preview", "--non-interactive"], { okCodes: [1, 255] });
        expect(plain.stdout + plain.stderr).toMatch(/is currently locked by 1 lock/);

        said.length = 0;
        await recoverAndUp();
        expect(said.join("\n")).toMatch(/removed the lock of an interrupted pulumi on stack faults \(pid \d+/);
        expect(said.join("\n")).toMatch(/the last update was interrupted while creating disk; clearing its 1 pending operation/);
        await converged();
    });

    it("two ups at the same time: the second waits for the first, then changes nothing; the state stays intact", async () => {
        await stack.pulumi(["config", "set", "size", "2GiB"]);
        const first = await startUp("first");
        const dir = lockDir(stack.backendDir, "prestage", stack.stack);
        await waitFor("the first up's lock", async () => (await fs.readdir(dir).catch(() => [])).some((f) => f.endsWith(".json")));
        said.length = 0;
        const second = await recoverAndUp();
        expect(await first.exited).toBe(0);
        expect(said.join("\n")).toMatch(/stack faults is being deployed by another pulumi \(pid \d+ on .*\); waiting for it to finish/);
        expect(second.stdout).toMatch(/\d+ unchanged/);
        expect(second.stdout).not.toMatch(/\d+ (created|updated|replaced)/);
        expect((await stack.outputs()).size).toBe(2 * 1024 ** 3);
        await converged();
    });

    it.skipIf(process.getuid?.() !== 0)("no space left in the artifacts folder: a clear error naming the folder and the space needed, nothing half-written", async () => {
        small = await fs.mkdtemp(path.join(os.tmpdir(), "if-e2e-small-"));
        await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
        await stack.pulumi(["config", "set", "path", path.join(small, "edge.raw")]);
        const r = await stack.pulumi(["up", "--yes", "--skip-preview", "--non-interactive"], { okCodes: [1, 255] });
        expect(r.stdout).toMatch(
            new RegExp(`not enough space in ${small}: writing the disk needs about \\d+ MiB free \\(staged archives and the filesystem image\\), 1 MiB are free; nothing was written`),
        );
        expect(await fs.readdir(small)).toEqual([]);
        // The earlier disk is still what the state records.
        await stack.pulumi(["config", "set", "path", disk()]);
        await stack.preview(["--expect-no-changes"]);
        expect(existsSync(disk())).toBe(true);
    });

    it("a disk edited by hand: refresh reads its real sha256, preview shows the disk's update, the next up writes it again", async () => {
        const recorded = (await stack.outputs()).sha256;
        const h = await fs.open(disk(), "r+");
        await h.write(Buffer.from("edited by hand"), 0, 14, 1024 * 1024);
        await h.close();

        const r = await refresh(stack);
        expect(r.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:PreStagedDisk: \(update\)/);
        expect(r.stdout).toMatch(new RegExp(`~ sha256\\s*: "${recorded}" => "[0-9a-f]{64}"`));
        const p = await stack.preview(["--diff"]);
        expect(p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:PreStagedDisk: \(update\)/);

        await recoverAndUp();
        await converged();
        expect((await stack.outputs()).sha256).toBe(await sha256File(disk()));
    });
});
