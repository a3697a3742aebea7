// What the fault tests (test/e2e/faults*.test.ts) share: an up started in its own
// process group (to be killed whole), what `npm run up` does after a fault
// (recover, then up), and the checks every converged stack must pass.
import { promises as fs, readdirSync, readFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "vitest";
import { startBackground } from "../../components/exec";
import { freePort } from "../../components/net";
import { processRuns } from "../../components/temp-dir";
import { recoverInterruptedUpdate, UP_FLAGS } from "../../scripts/recover";
import { ROOT, type TestStack } from "./harness";

export interface BackgroundUp {
    pid: number;
    exited: Promise<number | null>;
    logFile: string;
    log(): Promise<string>;
}

/** `pulumi up` started in its own process group, its output in a log file. */
export async function startUp(stack: TestStack, name: string): Promise<BackgroundUp> {
    const logFile = path.join(os.tmpdir(), `if-e2e-faults-${name}-${process.pid}.log`);
    await fs.writeFile(logFile, "");
    const env = { PULUMI_BACKEND_URL: `file://${stack.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase" };
    const up = startBackground("bash", [path.join(ROOT, "scripts/pulumi.sh"), "--cwd", stack.dir, "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.stack], { logFile, env });
    return { ...up, logFile, log: () => fs.readFile(logFile, "utf8") };
}

/**
 * SIGKILL to every process of the up at once, as a power cut does: its process group
 * (the CLI) and the plugins with their tools, which the engine starts in process
 * groups of their own. (Killed by group only, they would go on running, orphaned:
 * scripts/recover.ts stops those; test/unit/recover.test.ts covers that.)
 */
export async function killUp(up: BackgroundUp): Promise<void> {
    const others = descendants(up.pid).filter((p) => p.pgid !== up.pid);
    process.kill(-up.pid, "SIGKILL");
    for (const p of others) {
        try {
            process.kill(p.pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    await up.exited;
}

/** Every process below `root` (by parent pid), with its process group and command line. */
export function descendants(root: number): Array<{ pid: number; pgid: number; argv: string[] }> {
    const all = new Map<number, { ppid: number; pgid: number; argv: string[] }>();
    for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (fields[0] === "Z") continue;
            all.set(Number(entry), { ppid: Number(fields[1]), pgid: Number(fields[2]), argv: readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean) });
        } catch {
            // gone meanwhile
        }
    }
    const out: Array<{ pid: number; pgid: number; argv: string[] }> = [];
    const below = new Set([root]);
    for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, p] of all) {
            if (below.has(p.ppid) && !below.has(pid)) {
                below.add(pid);
                out.push({ pid, ...p });
                grew = true;
            }
        }
    }
    return out;
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10 * 60_000, pollMs = 100): Promise<void> {
    for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, pollMs))) if (await check()) return;
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

/** What `npm run up` does once its services run: recover what an interrupted up left, then up (with a refresh). */
export async function recoverAndUp(stack: TestStack, project: string, said: string[]) {
    await recoverInterruptedUpdate({ pulumi: (a) => stack.pulumi(a), backendDir: stack.backendDir, projectDir: stack.dir, project, stack: stack.stack, say: (l) => said.push(l) });
    return stack.pulumi(["up", ...UP_FLAGS, "--skip-preview", "--color=never"]);
}

/**
 * The checks every converged stack passes: no change planned, no pending operation,
 * no temp folder (named by withTempDir with one of `tempPrefixes`) of a dead process.
 */
export async function expectConverged(stack: TestStack, temps: { prefixes: string[]; parents?: string[] }): Promise<void> {
    await stack.preview(["--expect-no-changes"]);
    const state = JSON.parse((await stack.pulumi(["stack", "export"])).stdout);
    expect(state.deployment.pending_operations ?? []).toEqual([]);
    for (const parent of [os.tmpdir(), ...(temps.parents ?? [])]) {
        const strays = (await fs.readdir(parent).catch(() => [] as string[])).filter((e) => {
            const pid = temps.prefixes.some((p) => e.startsWith(p)) ? /\+(\d+)-/.exec(e)?.[1] : undefined;
            return pid !== undefined && !processRuns(Number(pid));
        });
        expect(strays, `temp folders of dead processes in ${parent}`).toEqual([]);
    }
}

/** The refresh that `npm run up` starts with, on its own: what it found, from its summary. */
export async function refresh(stack: TestStack) {
    return stack.pulumi(["refresh", "--yes", "--skip-preview", "--non-interactive", "--color=never", "--diff"]);
}

/**
 * A TCP proxy in front of a service that can hold a request midway: the connection
 * that starts a request matching a pattern is stalled (nothing more reaches the
 * service), so that a fault lands while an upload is really in progress, however
 * fast the machine. `close` makes the address refuse connections, as a stopped
 * service does; `open` listens on the same port again.
 */
export class HoldingProxy {
    private server?: net.Server;
    private readonly sockets = new Set<net.Socket>();
    private hold?: { pattern: RegExp; reached: () => void };

    private constructor(
        readonly port: number,
        private readonly upstream: { host: string; port: number },
    ) {}

    get address(): string {
        return `127.0.0.1:${this.port}`;
    }

    static async start(upstream: string): Promise<HoldingProxy> {
        const [host, port] = upstream.split(":");
        const proxy = new HoldingProxy(await freePort(), { host, port: Number(port) });
        await proxy.open();
        return proxy;
    }

    /** Resolves once a request whose first line matches `pattern` has started; its connection is held from then on. */
    holdNext(pattern: RegExp): Promise<void> {
        return new Promise((reached) => {
            this.hold = { pattern, reached };
        });
    }

    async open(): Promise<void> {
        this.server = net.createServer((client) => {
            const upstream = net.connect(this.upstream.port, this.upstream.host);
            this.sockets.add(client).add(upstream);
            let held = false;
            client.on("data", (chunk) => {
                if (held) return;
                if (this.hold?.pattern.test(chunk.toString("latin1").split("\r\n", 1)[0])) {
                    held = true;
                    const { reached } = this.hold;
                    this.hold = undefined;
                    reached();
                    return;
                }
                upstream.write(chunk);
            });
            upstream.pipe(client);
            const end = () => {
                client.destroy();
                upstream.destroy();
                this.sockets.delete(client);
                this.sockets.delete(upstream);
            };
            for (const s of [client, upstream]) s.on("close", end).on("error", end);
        });
        await new Promise<void>((resolve, reject) => this.server!.once("error", reject).listen(this.port, "127.0.0.1", resolve));
    }

    /** Refuses new connections and drops every open one (a held request included). */
    async close(): Promise<void> {
        for (const s of this.sockets) s.destroy();
        this.sockets.clear();
        await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
        this.server = undefined;
    }
}
