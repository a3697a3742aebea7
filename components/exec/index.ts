// The one way this project runs external programs: an argument array (never a
// shell string), a timeout, progress lines, and secrets kept off the command
// line and out of every message.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { FactoryError } from "../errors";

export interface RunOptions {
    cwd?: string;
    /** Added to the inherited environment. Secrets go here or in `input`, never in args. */
    env?: Record<string, string | undefined>;
    /** Written to the program's stdin, then stdin is closed. */
    input?: string | Buffer;
    /** Kill the program (and its process group) after this long. Default: 30 minutes. */
    timeoutMs?: number;
    /** Values that must never appear in a log line, an error message or the command line. */
    secrets?: string[];
    /** Called with each line the program prints (stdout and stderr), already redacted. */
    onLine?: (line: string, stream: "stdout" | "stderr") => void;
    /** Exit codes that count as success. Default: [0]. */
    okCodes?: number[];
    /** Keep stdout as bytes (for binary output); `stdout` is then "". */
    binaryStdout?: boolean;
}

export interface RunResult {
    exitCode: number;
    stdout: string;
    stderr: string;
    stdoutBytes?: Buffer;
    durationMs: number;
}

export class ExecError extends FactoryError {
    constructor(
        message: string,
        readonly command: string,
        readonly exitCode: number | null,
        readonly stdout: string,
        readonly stderr: string,
    ) {
        super(message);
        this.name = "ExecError";
    }
}

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
const TAIL_LINES = 25;

/** Replaces every secret in `text` with a marker. Short secrets are still redacted. */
export function redact(text: string, secrets: readonly string[] = []): string {
    let out = text;
    for (const s of secrets) {
        if (s) out = out.split(s).join("[secret]");
    }
    return out;
}

/** How a command is shown in messages: each argument quoted only when it needs it. */
export function describeCommand(program: string, args: readonly string[], secrets: readonly string[] = []): string {
    return redact([program, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" "), secrets);
}

function tail(text: string, lines = TAIL_LINES): string {
    const all = text.trimEnd().split("\n");
    return all.slice(-lines).join("\n");
}

/**
 * Runs `program` with `args` and resolves when it exits with an accepted code.
 * Rejects with an ExecError that names the command, the exit code and the last
 * lines of its output; a program that is not installed gets a message that says so.
 */
export function run(program: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const secrets = (opts.secrets ?? []).filter((s) => s.length > 0);
    const shown = describeCommand(program, args, secrets);
    for (const a of [program, ...args]) {
        if (secrets.some((s) => a.includes(s))) {
            return Promise.reject(new ExecError(`refusing to run ${shown}: a secret would be on the command line`, shown, null, "", ""));
        }
    }
    const started = Date.now();
    const okCodes = opts.okCodes ?? [0];
    return new Promise((resolve, reject) => {
        const child = spawn(program, [...args], {
            cwd: opts.cwd,
            env: { ...process.env, ...opts.env },
            stdio: ["pipe", "pipe", "pipe"],
            detached: true, // own process group, so a timeout kills the whole tree
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const partial = { stdout: "", stderr: "" };
        const emitLines = (stream: "stdout" | "stderr", chunk: Buffer) => {
            if (!opts.onLine) return;
            const text = partial[stream] + chunk.toString("utf8");
            const lines = text.split(/\r?\n|\r/);
            partial[stream] = lines.pop() ?? "";
            for (const line of lines) if (line.trim()) opts.onLine(redact(line, secrets), stream);
        };
        child.stdout.on("data", (c: Buffer) => {
            out.push(c);
            if (!opts.binaryStdout) emitLines("stdout", c);
        });
        child.stderr.on("data", (c: Buffer) => {
            err.push(c);
            emitLines("stderr", c);
        });
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            killGroup(child.pid, "SIGTERM");
            setTimeout(() => killGroup(child.pid, "SIGKILL"), 5000).unref();
        }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
        child.on("error", (e: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            const why = e.code === "ENOENT" ? `${program} is not installed or not on PATH (run \`npm run setup\`)` : e.message;
            reject(new ExecError(`cannot run ${shown}: ${why}`, shown, null, "", ""));
        });
        child.stdin.on("error", () => undefined); // a program that does not read stdin must not crash us
        child.stdin.end(opts.input ?? undefined);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            for (const s of ["stdout", "stderr"] as const) {
                if (partial[s].trim() && opts.onLine) opts.onLine(redact(partial[s], secrets), s);
            }
            const stdoutBytes = Buffer.concat(out);
            const stdout = opts.binaryStdout ? "" : redact(stdoutBytes.toString("utf8"), secrets);
            const stderr = redact(Buffer.concat(err).toString("utf8"), secrets);
            const durationMs = Date.now() - started;
            const exitCode = code ?? -1;
            if (!timedOut && signal === null && okCodes.includes(exitCode)) {
                resolve({ exitCode, stdout, stderr, durationMs, stdoutBytes: opts.binaryStdout ? stdoutBytes : undefined });
                return;
            }
            const what = timedOut
                ? `timed out after ${Math.round((opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)}s`
                : signal
                  ? `was killed by ${signal}`
                  : `failed with exit code ${exitCode}`;
            const output = tail([stderr, opts.binaryStdout ? "" : stdout].filter((s) => s.trim()).join("\n"));
            reject(new ExecError(`${shown} ${what}${output ? `:\n${output}` : ""}`, shown, code, stdout, stderr));
        });
    });
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
    if (!pid) return;
    try {
        process.kill(-pid, signal);
    } catch {
        // already gone
    }
}

/** True when `program` can be run (found on PATH or as a path). */
export async function available(program: string, versionArgs: readonly string[] = ["--version"]): Promise<boolean> {
    try {
        await run(program, versionArgs, { timeoutMs: 20_000 });
        return true;
    } catch {
        return false;
    }
}

export interface Background {
    pid: number;
    /** Stops the program (SIGTERM to its process group, then SIGKILL) and waits for it. */
    stop(): Promise<void>;
    /** Resolves with the exit code when the program ends. */
    exited: Promise<number | null>;
}

/**
 * Starts a long-running program (a local registry, an S3 server, a service under
 * test) with its output appended to `logFile`. With `detach`, it outlives this
 * process; otherwise it is stopped when this process exits.
 */
export function startBackground(
    program: string,
    args: readonly string[],
    opts: { logFile: string; env?: Record<string, string | undefined>; cwd?: string; detach?: boolean },
): Background {
    const log = fs.openSync(opts.logFile, "a");
    const child = spawn(program, [...args], {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        stdio: ["ignore", log, log],
        detached: true,
    });
    fs.closeSync(log);
    if (!child.pid) throw new ExecError(`cannot start ${describeCommand(program, args)}`, program, null, "", "");
    const pid = child.pid;
    const exited = new Promise<number | null>((resolve) => {
        child.on("exit", (code) => resolve(code));
        child.on("error", () => resolve(null));
    });
    if (opts.detach) {
        child.unref();
    } else {
        const onExit = () => killGroup(pid, "SIGKILL");
        process.once("exit", onExit);
        void exited.then(() => process.removeListener("exit", onExit));
    }
    return {
        pid,
        exited,
        async stop() {
            killGroup(pid, "SIGTERM");
            const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
            if (!done) killGroup(pid, "SIGKILL");
            await exited;
        },
    };
}
