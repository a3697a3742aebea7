// ImageTest: runs an image's tests inside the built image (pulled by digest),
// before anything is released: the test program renderTestScript renders (the
// same one the in-cluster pipeline runs), with `buildah run` in a private
// network namespace. A failing test fails the `up` with the test's
// output; the release and every descendant depend on this resource's output.
import { randomBytes } from "node:crypto";
import type { ProviderImpl } from "../dynamic";
import { changedKeys, isUnknown, diffOn } from "../dynamic";
import { run } from "../exec";
import { isDigest, type RegistryAuth } from "../registry/client";
import { storageFlags, withImageContainer } from "./buildah";
import type { TestSpec } from "./catalog";
import { parseTestOutput, renderTestScript } from "./render/test-script";
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

/** A private network namespace (as root), so that a service under test cannot clash with, or be mistaken for, one on the host. */
async function withNetns<T>(fn: (wrap: string[]) => Promise<T>): Promise<T> {
    if (process.getuid?.() !== 0) return fn([]);
    const ns = `if-test-${randomBytes(4).toString("hex")}`;
    await run("ip", ["netns", "add", ns]);
    try {
        await run("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
        return await fn(["ip", "netns", "exec", ns]);
    } finally {
        // Whatever a test left running (a service that double-forked out of its process group).
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

/** How long the whole test program may run: each test's own bound. */
function timeLimitMs(tests: TestSpec[]): number {
    return 60_000 + tests.reduce((ms, t) => ms + (t.kind === "command" ? 5 * 60_000 : t.kind === "service" ? (t.timeoutSeconds + 30) * 1000 : 60_000), 0);
}

const tail = (text: string, lines = 25) => text.trimEnd().split("\n").slice(-lines).join("\n");

/**
 * Runs every test (a failure does not stop the others) and returns the results:
 * the program renderTestScript renders — the one the in-cluster pipeline runs —
 * inside the image under test, in a private network namespace.
 */
export async function runImageTests(inputs: ImageTestInputs, log: (l: string) => void = () => undefined): Promise<TestResult[]> {
    // Nothing to run: an image without tests needs no shell, nor a container to run one in.
    if (inputs.tests.length === 0) return [];
    const script = renderTestScript(inputs.tests);
    return withImageContainer(inputs.storage, inputs.ref, inputs.auth, `test-${inputs.name}`, log, (container) =>
        withNetns(async (wrap) => {
            const buildahRun = [...storageFlags(inputs.storage), "run", "--isolation", "chroot", container, "--", "/bin/sh", "-c", script];
            const [program, ...args] = [...wrap, "buildah", ...buildahRun];
            // When each record is printed: a test's time is from the record before it.
            const printed: number[] = [];
            let started = Date.now();
            const r = await run(program, args, {
                okCodes: Array.from({ length: 256 }, (_, i) => i),
                timeoutMs: timeLimitMs(inputs.tests),
                onLine: (line, stream) => {
                    if (stream !== "stdout" || !/^(not )?ok - /.test(line)) return;
                    printed.push(Date.now() - started);
                    started = Date.now();
                    log(line.replace(/^ok - /, "✓ ").replace(/^not ok - /, "✗ "));
                },
            });
            const parsed = parseTestOutput(inputs.tests, r.stdout);
            const stopped = `no result: the test program stopped (exit ${r.exitCode}); its last lines:\n${tail(`${r.stdout}\n${r.stderr}`)}`;
            return parsed.map((p, i) => ({
                name: inputs.tests[i].name,
                passed: p?.passed ?? false,
                durationMs: printed[i] ?? 0,
                detail: p?.detail ?? stopped,
            }));
        }),
    );
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
