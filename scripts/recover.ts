// What an interrupted `pulumi up` leaves on a file backend, put right before the
// next one (scripts/up.ts runs this first, and says what it did):
//   - its lock: removed when the process that took it is gone; when that process
//     still runs (a second `npm run up` on the same stack) this one waits for it;
//   - its plugins: the engine starts each plugin (language host, provider hosts) in a
//     process group of its own, so a SIGKILL of the up's process group leaves them
//     running, orphaned — a dynamic provider host goes on building, uploading or
//     writing for an engine that will never record it, then waits forever. Those
//     of this project whose engine is gone are stopped, with their tools, first;
//   - pending operations in the state (the engine keeps pending creates forever and
//     asks for an interactive refresh): cleared with `stack export`/`stack import`,
//     and the resources that were being updated or deleted are refreshed, so the
//     state matches what really is there before the up decides anything.
// Temp folders of killed providers are swept by withTempDir (components/temp-dir.ts).
import { promises as fs, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { RunResult } from "../components/exec";
import { processRuns, withTempDir } from "../components/temp-dir";

/**
 * How `npm run up` runs `pulumi up` after recovering: with a refresh first, so that
 * what changed by hand since the last up (a tag moved, an object replaced, a disk
 * edited) is read from the real registry, bucket and files and put right.
 */
export const UP_FLAGS = ["--yes", "--refresh", "--non-interactive"];

export type Pulumi = (args: string[]) => Promise<RunResult>;
export type Say = (line: string) => void;

interface LockContent {
    pid: number;
    hostname: string;
    timestamp: string;
}

/** Where the file backend keeps a stack's locks (pkg/backend/diy: .pulumi/locks/<org>/<project>/<stack>). */
export function lockDir(backendDir: string, project: string, stack: string): string {
    return path.join(backendDir, ".pulumi", "locks", "organization", project, stack);
}

/**
 * Removes the locks of pulumi processes that are gone; waits (up to `timeoutMs`)
 * while a live process holds one. A lock from another machine is left alone.
 */
export async function settleLocks(dir: string, stack: string, say: Say, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<void> {
    const { timeoutMs = 3 * 60 * 60_000, pollMs = 2000 } = opts;
    const started = Date.now();
    let waiting = false;
    for (;;) {
        const names = await fs.readdir(dir).catch(() => [] as string[]);
        const live: Array<LockContent & { file: string }> = [];
        for (const name of names.filter((n) => n.endsWith(".json"))) {
            const file = path.join(dir, name);
            let lock: LockContent;
            try {
                lock = JSON.parse(await fs.readFile(file, "utf8"));
            } catch {
                continue; // being written or removed right now; looked at again next round
            }
            if (lock.hostname === os.hostname() && !processRuns(lock.pid)) {
                await fs.rm(file, { force: true });
                await fs.rm(`${file}.attrs`, { force: true }); // the blob store's sidecar
                say(`removed the lock of an interrupted pulumi on stack ${stack} (pid ${lock.pid}, since ${lock.timestamp})`);
            } else {
                live.push({ ...lock, file });
            }
        }
        if (live.length === 0) {
            if (waiting) say(`stack ${stack} is free again after ${Math.round((Date.now() - started) / 1000)}s`);
            return;
        }
        const l = live[0];
        if (Date.now() - started > timeoutMs) {
            throw new Error(`stack ${stack} is still being deployed by pulumi pid ${l.pid} on ${l.hostname} (since ${l.timestamp}); if that process is gone, remove ${l.file}`);
        }
        if (!waiting) say(`stack ${stack} is being deployed by another pulumi (pid ${l.pid} on ${l.hostname}, since ${l.timestamp}); waiting for it to finish ...`);
        waiting = true;
        await new Promise((r) => setTimeout(r, pollMs));
    }
}

/** A plugin's command line: the engine passes its own address as the last argument. */
function pluginEngine(argv: string[]): string | undefined {
    const isPlugin = argv.slice(0, 2).some((a) => /^pulumi-(resource|language|analyzer)-/.test(path.basename(a)) || a.endsWith("/cmd/dynamic-provider/index.js"));
    const last = argv[argv.length - 1] ?? "";
    return isPlugin && /^[\w.-]+:\d+$/.test(last) ? last : undefined;
}

/** True when something accepts connections at host:port. */
function answers(address: string): Promise<boolean> {
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    return new Promise((resolve) => {
        const s = net.connect({ host, port, timeout: 2000 });
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("timeout", () => {
            s.destroy();
            resolve(true); // slow is not gone
        });
        s.once("error", () => resolve(false));
    });
}

/**
 * Stops the plugins of a killed `pulumi` that still run for `projectDir` (their
 * working folder, or one below it), with every process they started: a plugin whose engine no
 * longer answers at the address it was given. Resolves with how many processes it stopped.
 */
export async function stopOrphanedPlugins(projectDir: string, say: Say): Promise<number> {
    const project = realpathSync(projectDir);
    const parents = new Map<number, number>();
    const plugins: Array<{ pid: number; engine: string }> = [];
    for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        const pid = Number(entry);
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
            parents.set(pid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
            const engine = pluginEngine(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean));
            const cwd = engine ? readlinkSync(`/proc/${pid}/cwd`).replace(/ \(deleted\)$/, "") : "";
            // The engine runs a program whose `main` is in a subfolder (infra/) there.
            if (engine && (cwd === project || cwd.startsWith(`${project}/`))) plugins.push({ pid, engine });
        } catch {
            // gone meanwhile, or not ours to read
        }
    }
    const orphans: typeof plugins = [];
    for (const p of plugins) if (!(await answers(p.engine))) orphans.push(p);
    if (orphans.length === 0) return 0;
    // The plugins and everything below them.
    const doomed = new Set(orphans.map((o) => o.pid));
    for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, ppid] of parents) {
            if (doomed.has(ppid) && !doomed.has(pid)) {
                doomed.add(pid);
                grew = true;
            }
        }
    }
    const engines = [...new Set(orphans.map((o) => o.engine))].join(", ");
    say(`stopping ${doomed.size} process(es) a killed pulumi left running for ${projectDir} (plugins of the engine that was at ${engines}, and their tools)`);
    for (const pid of doomed) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    for (const until = Date.now() + 30_000; [...doomed].some(processRuns) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
    return doomed.size;
}

interface PendingOperation {
    type: string;
    resource: { urn: string };
}

/**
 * Clears the pending operations an interrupted update left in the state and
 * refreshes the resources it was updating or deleting (those are in the state;
 * one being created is not, and the up creates it again). Returns what it cleared.
 */
export async function clearPendingOperations(pulumi: Pulumi, say: Say): Promise<PendingOperation[]> {
    const exported = JSON.parse((await pulumi(["stack", "export"])).stdout);
    const pending: PendingOperation[] = exported.deployment?.pending_operations ?? [];
    if (pending.length === 0) return [];
    const shown = pending.map((op) => `${op.type} ${op.resource.urn.replace(/^.*::/, "")}`).join(", ");
    say(`the last update was interrupted while ${shown}; clearing its ${pending.length} pending operation(s) (stack export, import)`);
    delete exported.deployment.pending_operations;
    await withTempDir("if-state-", async (dir) => {
        const file = path.join(dir, "state.json");
        await fs.writeFile(file, JSON.stringify(exported), { mode: 0o600 });
        await pulumi(["stack", "import", "--file", file]);
    });
    const inState = new Set<string>((exported.deployment?.resources ?? []).map((r: { urn: string }) => r.urn));
    const targets = [...new Set(pending.filter((op) => op.type !== "creating" && inState.has(op.resource.urn)).map((op) => op.resource.urn))];
    if (targets.length) {
        say(`refreshing what was being changed, so the state matches what is there: ${targets.map((u) => u.replace(/^.*::/, "")).join(", ")}`);
        await pulumi(["refresh", "--yes", "--skip-preview", "--non-interactive", ...targets.flatMap((u) => ["--target", u])]);
    }
    return pending;
}

/**
 * All three, in order: the lock first (a live update may still finish its
 * operations), then the orphaned plugins (so that nothing works on the stack's
 * resources any more), then the pending operations.
 */
export async function recoverInterruptedUpdate(opts: {
    pulumi: Pulumi;
    backendDir: string;
    /** The Pulumi project's folder (where its plugins run). */
    projectDir: string;
    project: string;
    stack: string;
    say: Say;
    waitTimeoutMs?: number;
}): Promise<void> {
    await settleLocks(lockDir(opts.backendDir, opts.project, opts.stack), opts.stack, opts.say, { timeoutMs: opts.waitTimeoutMs });
    await stopOrphanedPlugins(opts.projectDir, opts.say);
    await clearPendingOperations(opts.pulumi, opts.say);
}
