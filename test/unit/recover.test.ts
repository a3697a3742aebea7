// The file backend's stack locks as scripts/recover.ts reads them (the engine's
// own part is covered by test/e2e/faults.test.ts): a lock of a process that is
// gone is removed, a live one is waited for, and a wait that lasts too long says
// which process and which file.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../components/net";
import { processRuns } from "../../components/temp-dir";
import { lockDir, settleLocks, stopOrphanedPlugins } from "../../scripts/recover";

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

describe("stopOrphanedPlugins", () => {
    let project: string;
    let engine: net.Server | undefined;
    const started: number[] = [];

    /** A stand-in dynamic provider host (its command line as the engine starts it) that starts a tool of its own. */
    const plugin = async (engineAddress: string) => {
        const child = spawn(process.execPath, [path.join(project, "cmd/dynamic-provider/index.js"), engineAddress], { cwd: project, detached: true, stdio: ["ignore", "pipe", "ignore"] });
        const toolPid = Number(await new Promise<string>((resolve) => child.stdout!.once("data", (d) => resolve(String(d)))));
        started.push(child.pid!, toolPid);
        return { pid: child.pid!, toolPid };
    };

    beforeEach(async () => {
        project = await fs.mkdtemp(path.join(os.tmpdir(), "if-orphans-"));
        await fs.mkdir(path.join(project, "cmd/dynamic-provider"), { recursive: true });
        await fs.writeFile(
            path.join(project, "cmd/dynamic-provider/index.js"),
            'const t = require("node:child_process").spawn("sleep", ["300"], { stdio: "ignore" }); console.log(t.pid); setInterval(() => {}, 1000);\n',
        );
    });
    afterEach(async () => {
        for (const pid of started.splice(0)) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // stopped by the test
            }
        }
        await new Promise<void>((r) => (engine ? engine.close(() => r()) : r()));
        engine = undefined;
        await fs.rm(project, { recursive: true, force: true });
    });

    it("stops a plugin of this project whose engine is gone, with the tools it started, and says so", async () => {
        const gone = `127.0.0.1:${await freePort()}`;
        const orphan = await plugin(gone);
        const said: string[] = [];
        expect(await stopOrphanedPlugins(project, (l) => said.push(l))).toBe(2);
        expect(processRuns(orphan.pid)).toBe(false);
        expect(processRuns(orphan.toolPid)).toBe(false);
        expect(said).toEqual([`stopping 2 process(es) a killed pulumi left running for ${project} (plugins of the engine that was at ${gone}, and their tools)`]);
    });

    it("leaves a plugin whose engine answers alone, and one of another project", async () => {
        engine = net.createServer().listen(0, "127.0.0.1");
        await new Promise((r) => engine!.once("listening", r));
        const live = await plugin(`127.0.0.1:${(engine.address() as net.AddressInfo).port}`);
        const other = await fs.mkdtemp(path.join(os.tmpdir(), "if-orphans-other-"));
        try {
            expect(await stopOrphanedPlugins(other, () => undefined)).toBe(0);
            expect(await stopOrphanedPlugins(project, () => undefined)).toBe(0);
            expect(processRuns(live.pid)).toBe(true);
        } finally {
            await fs.rm(other, { recursive: true, force: true });
        }
    });
});
