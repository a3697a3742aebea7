// What an interrupted `pulumi up` leaves on a file backend, put right before the
// next one (scripts/up.ts runs this first, and says what it did):
//   - its lock: removed when the process that took it is gone; when that process
//     still runs (a second `npm run up` on the same stack) this one waits for it;
//   - pending operations in the state (the engine keeps pending creates forever and
//     asks for an interactive refresh): cleared with `stack export`/`stack import`,
//     and the resources that were being updated or deleted are refreshed, so the
//     state matches what really is there before the up decides anything.
// Temp folders of killed providers are swept by withTempDir (components/temp-dir.ts).
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RunResult } from "../components/exec";
import { processRuns, withTempDir } from "../components/temp-dir";

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

/** Both, in order: the lock first (a live update may still finish its operations). */
export async function recoverInterruptedUpdate(opts: { pulumi: Pulumi; backendDir: string; project: string; stack: string; say: Say; waitTimeoutMs?: number }): Promise<void> {
    await settleLocks(lockDir(opts.backendDir, opts.project, opts.stack), opts.stack, opts.say, { timeoutMs: opts.waitTimeoutMs });
    await clearPendingOperations(opts.pulumi, opts.say);
}
