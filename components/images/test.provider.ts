// ImageTest: runs an image's tests inside the built image (pulled by digest),
// before anything is released. A failing test fails the `up` with the test's
// output; the release and every descendant depend on this resource's output.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { changedKeys, isUnknown, diffOn } from "../dynamic";
import { run, startBackground } from "../exec";
import { isDigest, type RegistryAuth } from "../registry/client";
import { withTempDir } from "../temp-dir";
import { buildah, storageFlags, withImageRoot } from "./buildah";
import type { TestSpec } from "./catalog";
import { FactoryError } from "../errors";

export interface ImageTestInputs {
    name: string;
    /** The image under test, host/repo@sha256:… */
    ref: string;
    tests: TestSpec[];
    storage: string;
    auth?: RegistryAuth;
}

export interface TestResult {
    name: string;
    passed: boolean;
    durationMs: number;
    detail: string;
}

export interface ImageTestOutputs extends ImageTestInputs {
    /** The digest that passed its tests: what releases and children build on. */
    digest: string;
    results: TestResult[];
}

export class TestFailure extends FactoryError {
    constructor(image: string, ref: string, failed: TestResult[], total: number) {
        super(
            `${image}: ${failed.length} of ${total} tests failed for ${ref}; nothing is released for it or its descendants:\n` +
                failed.map((r) => `  ✗ ${r.name}\n${r.detail.replace(/^/gm, "      ")}`).join("\n"),
        );
        this.name = "TestFailure";
    }
}

const MAX_DETAIL = 4000;
const clip = (s: string) => (s.length > MAX_DETAIL ? `…${s.slice(-MAX_DETAIL)}` : s);

/** Resolves `p` inside `root`, following symlinks as the image would (absolute links stay in the image). */
export async function resolveInRoot(root: string, p: string): Promise<string> {
    const parts = p.split("/").filter(Boolean);
    let current: string[] = [];
    for (let hops = 0; parts.length; ) {
        const part = parts.shift()!;
        if (part === ".") continue;
        if (part === "..") {
            current.pop();
            continue;
        }
        const candidate = path.join(root, ...current, part);
        const st = await fs.lstat(candidate).catch(() => undefined);
        if (st?.isSymbolicLink()) {
            if (++hops > 40) throw new Error(`too many symbolic links resolving ${p}`);
            const target = await fs.readlink(candidate);
            if (target.startsWith("/")) current = [];
            parts.unshift(...target.split("/").filter(Boolean));
            continue;
        }
        current.push(part);
    }
    return path.join(root, ...current);
}

// Runs inside the service's network namespace: one HTTP or TCP probe, as JSON.
const PROBE = `
const [kind, port, urlPath] = process.argv.slice(1);
const done = (o) => { console.log(JSON.stringify(o)); process.exit(o.ok ? 0 : 1); };
if (kind === "tcp") {
  const s = require("net").connect(Number(port), "127.0.0.1", () => { s.end(); done({ ok: true }); });
  s.on("error", (e) => done({ ok: false, error: e.code || e.message }));
} else {
  require("http").get({ host: "127.0.0.1", port: Number(port), path: urlPath, timeout: 5000 }, (r) => {
    let body = ""; r.setEncoding("utf8"); r.on("data", (d) => (body += d)); r.on("end", () => done({ ok: true, status: r.statusCode, body }));
  }).on("error", (e) => done({ ok: false, error: e.code || e.message }));
}`;

/** A private network namespace (as root), so that a service under test cannot clash with, or be mistaken for, one on the host. */
async function withNetns<T>(fn: (wrap: string[]) => Promise<T>): Promise<T> {
    if (process.getuid?.() !== 0) return fn([]);
    const ns = `if-test-${randomBytes(4).toString("hex")}`;
    await run("ip", ["netns", "add", ns]);
    try {
        await run("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
        return await fn(["ip", "netns", "exec", ns]);
    } finally {
        const pids = await run("ip", ["netns", "pids", ns]).catch(() => ({ stdout: "" }));
        for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
            try {
                process.kill(Number(pid), "SIGKILL");
            } catch {
                // gone
            }
        }
        await run("ip", ["netns", "del", ns]).catch(() => undefined);
    }
}

async function serviceTest(storage: string, container: string, t: Extract<TestSpec, { kind: "service" }>): Promise<{ passed: boolean; detail: string }> {
    return withNetns(async (wrap) =>
        withTempDir("if-service-", async (dir) => {
            const logFile = path.join(dir, "service.log");
            const [prog, ...pre] = wrap.length ? wrap : ["buildah"];
            const args = [...(wrap.length ? [...pre, "buildah"] : []), ...storageFlags(storage), "run", "--isolation", "chroot", container, "--", ...t.start];
            const svc = startBackground(prog, args, { logFile });
            const deadline = Date.now() + t.timeoutSeconds * 1000;
            let last = "";
            try {
                while (Date.now() < deadline) {
                    const exited = await Promise.race([svc.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
                    if (exited) {
                        last = "the service exited before answering";
                        break;
                    }
                    const probeCmd = [...wrap, process.execPath, "-e", PROBE, t.http ? "http" : "tcp", String((t.http ?? t.tcp)!.port), t.http?.path ?? "/"];
                    const r = await run(probeCmd[0], probeCmd.slice(1), { okCodes: [0, 1], timeoutMs: 15_000 });
                    const res = JSON.parse(r.stdout.trim() || "{}") as { ok?: boolean; status?: number; body?: string; error?: string };
                    if (!res.ok) {
                        last = `not answering yet (${res.error})`;
                        continue;
                    }
                    if (t.tcp) return { passed: true, detail: `port ${t.tcp.port} accepts connections` };
                    const h = t.http!;
                    const okStatus = res.status === h.status;
                    const okBody = h.contains === undefined || (res.body ?? "").includes(h.contains);
                    const detail = `GET ${h.path} on port ${h.port} → ${res.status}${h.contains ? `, body ${okBody ? "contains" : "does not contain"} ${JSON.stringify(h.contains)}` : ""}`;
                    return okStatus && okBody ? { passed: true, detail } : { passed: false, detail: `${detail} (expected ${h.status})\n${clip(res.body ?? "")}` };
                }
                const log = await fs.readFile(logFile, "utf8").catch(() => "");
                return { passed: false, detail: `${last || "timed out"} after ${t.timeoutSeconds}s; service output:\n${clip(log)}` };
            } finally {
                await svc.stop();
            }
        }),
    );
}

async function runOne(storage: string, container: string, root: string, t: TestSpec): Promise<{ passed: boolean; detail: string }> {
    if (t.kind === "command") {
        const r = await buildah(storage, ["run", "--isolation", "chroot", container, "--", ...t.run], { okCodes: Array.from({ length: 256 }, (_, i) => i), timeoutMs: 5 * 60_000 });
        const output = clip(`${r.stdout}${r.stderr}`.trim());
        if (r.exitCode !== t.exitCode) return { passed: false, detail: `\`${t.run.join(" ")}\` exited ${r.exitCode} (expected ${t.exitCode}):\n${output}` };
        if (t.stdoutContains !== undefined && !r.stdout.includes(t.stdoutContains)) {
            return { passed: false, detail: `\`${t.run.join(" ")}\` output does not contain ${JSON.stringify(t.stdoutContains)}:\n${output}` };
        }
        return { passed: true, detail: `\`${t.run.join(" ")}\` exited ${r.exitCode}` };
    }
    if (t.kind === "file") {
        const resolved = await resolveInRoot(root, t.path);
        const st = await fs.stat(resolved).catch(() => undefined);
        if (!st?.isFile()) return { passed: false, detail: `${t.path} is not a file in the image` };
        const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
        if (t.mode !== undefined && mode !== t.mode.padStart(4, "0")) return { passed: false, detail: `${t.path} has mode ${mode}, expected ${t.mode}` };
        if (t.contains !== undefined && !(await fs.readFile(resolved, "utf8")).includes(t.contains)) {
            return { passed: false, detail: `${t.path} does not contain ${JSON.stringify(t.contains)}` };
        }
        return { passed: true, detail: `${t.path} (mode ${mode})` };
    }
    return serviceTest(storage, container, t);
}

/** Runs every test (a failure does not stop the others) and returns the results. */
export async function runImageTests(inputs: ImageTestInputs, log: (l: string) => void = () => undefined): Promise<TestResult[]> {
    return withImageRoot(inputs.storage, inputs.ref, inputs.auth, `test-${inputs.name}`, log, async (root, container) => {
        const results: TestResult[] = [];
        for (const t of inputs.tests) {
            const started = Date.now();
            const r = await runOne(inputs.storage, container, root, t).catch((e: Error) => ({ passed: false, detail: e.message }));
            results.push({ name: t.name, passed: r.passed, durationMs: Date.now() - started, detail: r.detail });
            log(`${r.passed ? "✓" : "✗"} ${t.name} (${Date.now() - started} ms)`);
        }
        return results;
    });
}

async function test(inputs: ImageTestInputs): Promise<ImageTestOutputs> {
    const say = (l: string) => console.log(`[test ${inputs.name}] ${l}`);
    say(`testing ${inputs.ref} (${inputs.tests.length} tests)`);
    const results = await runImageTests(inputs, say);
    const failed = results.filter((r) => !r.passed);
    if (failed.length) throw new TestFailure(inputs.name, inputs.ref, failed, results.length);
    return { ...inputs, digest: inputs.ref.split("@")[1], results };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (!isUnknown(news.ref) && (typeof news.ref !== "string" || !isDigest(news.ref.split("@")[1] ?? ""))) {
            failures.push({ property: "ref", reason: `the image under test must be referenced by digest, got ${JSON.stringify(news.ref)}` });
        }
        if (!isUnknown(news.tests) && !Array.isArray(news.tests)) failures.push({ property: "tests", reason: "tests must be a list" });
        return { inputs: news, failures };
    },
    diff: diffOn([], ["ref", "tests"]),
    async create(inputs) {
        const outs = await test(inputs as ImageTestInputs);
        return { id: outs.name, outs };
    },
    async update(_id, olds, news) {
        const n = news as ImageTestInputs;
        if (changedKeys(olds, news, ["ref", "tests"]).length === 0) return { outs: { ...olds, ...n } };
        return { outs: await test(n) };
    },
    async delete() {
        // Tests leave nothing behind.
    },
};
