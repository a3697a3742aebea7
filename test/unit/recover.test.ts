// The file backend's stack locks as scripts/recover.ts reads them (the engine's
// own part is covered by test/e2e/faults.test.ts): a lock of a process that is
// gone is removed, a live one is waited for, and a wait that lasts too long says
// which process and which file.
import { spawnSync } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lockDir, settleLocks } from "../../scripts/recover";

describe("settleLocks", () => {
    let backend: string;
    let dir: string;
    const said: string[] = [];
    const lock = (name: string, pid: number, hostname = os.hostname()) =>
        fs.writeFile(path.join(dir, `${name}.json`), JSON.stringify({ pid, username: "root", hostname, timestamp: "2026-12-02T01:00:00Z" }));
    /** A pid that ran and is gone. */
    const deadPid = () => spawnSync("true").pid!;

    beforeEach(async () => {
        backend = await fs.mkdtemp(path.join(os.tmpdir(), "if-locks-"));
        dir = lockDir(backend, "image-factory", "local");
        await fs.mkdir(dir, { recursive: true });
        said.length = 0;
    });
    afterEach(() => fs.rm(backend, { recursive: true, force: true }));

    it("lives where the file backend keeps it", () => {
        expect(path.relative(backend, dir)).toBe(".pulumi/locks/organization/image-factory/local");
    });

    it("returns at once when nothing holds the stack", async () => {
        await settleLocks(dir, "local", (l) => said.push(l));
        expect(said).toEqual([]);
    });

    it("removes the lock of a process that is gone, and says so", async () => {
        const pid = deadPid();
        await lock("a", pid);
        await settleLocks(dir, "local", (l) => said.push(l));
        expect(existsSync(path.join(dir, "a.json"))).toBe(false);
        expect(said).toEqual([`removed the lock of an interrupted pulumi on stack local (pid ${pid}, since 2026-12-02T01:00:00Z)`]);
    });

    it("waits while a live process holds the stack", async () => {
        await lock("live", process.pid);
        setTimeout(() => void fs.rm(path.join(dir, "live.json")), 600);
        await settleLocks(dir, "local", (l) => said.push(l), { pollMs: 100 });
        expect(said[0]).toBe(`stack local is being deployed by another pulumi (pid ${process.pid} on ${os.hostname()}, since 2026-12-02T01:00:00Z); waiting for it to finish ...`);
        expect(said[1]).toMatch(/^stack local is free again after \d+s$/);
    });

    it("leaves a lock of another machine alone, and gives up after the timeout naming the process and the file", async () => {
        await lock("other", deadPid(), "build-host-2");
        await expect(settleLocks(dir, "local", () => undefined, { timeoutMs: 300, pollMs: 100 })).rejects.toThrow(
            /^stack local is still being deployed by pulumi pid \d+ on build-host-2 \(since 2026-12-02T01:00:00Z\); if that process is gone, remove .*other\.json$/,
        );
        expect(existsSync(path.join(dir, "other.json"))).toBe(true);
    });
});
