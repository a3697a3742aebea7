import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** True while `pid` runs on this machine (a zombie, killed but not reaped, counts as gone). */
export function processRuns(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
    try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}

/**
 * A private temp folder (under `parent`, made if missing), removed after `fn` however
 * it ends. Its name carries the pid ("<prefix>+<pid>-XXXXXX"), so that the folders of a
 * process that was killed (SIGKILL runs no `finally`) are swept by the next one.
 */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>, parent = os.tmpdir()): Promise<T> {
    await fs.mkdir(parent, { recursive: true });
    await sweepKilled(parent, prefix);
    const dir = await fs.mkdtemp(path.join(parent, `${prefix}+${process.pid}-`));
    try {
        return await fn(dir);
    } finally {
        await fs.rm(dir, { recursive: true, force: true });
    }
}

/** Removes `<prefix>+<pid>-…` entries of `parent` whose process is gone. */
export async function sweepKilled(parent: string, prefix: string): Promise<void> {
    for (const entry of await fs.readdir(parent).catch(() => [] as string[])) {
        const pid = entry.startsWith(prefix) ? /^\+(\d+)-/.exec(entry.slice(prefix.length))?.[1] : undefined;
        if (pid && Number(pid) !== process.pid && !processRuns(Number(pid))) await fs.rm(path.join(parent, entry), { recursive: true, force: true });
    }
}
