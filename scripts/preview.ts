// `npm run preview -- <stack> [--summary-only]` and `npm run preview -- --all
// [--since <git ref>] [--summary-only]`: the diff a pull request gets (`pulumi
// preview --diff`, with the policy pack) of one stack or of every affected one,
// then what it means as one Markdown summary: per site, the images that rebuild
// and why, the tags and channels that move, the disks and boot artifact sets
// that are remade, the policy failures, and the stacks whose preview failed.
// Runs the engine through the Automation API; exits non-zero when a stack or a
// mandatory policy failed.
import * as path from "node:path";
import { type EngineEvent, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { affectedStacks, stackFiles } from "./changed-stacks";
import { fleetFailed, lastLines, type PolicyViolation, type PreviewStep, type StackPreview, summarizeFleet } from "./preview-summary";

const ROOT = path.resolve(__dirname, "..");
const USAGE = "usage: npm run preview -- <stack> [--summary-only]  |  npm run preview -- --all [--since <git ref>] [--summary-only]";
/** Stacks previewed at once: each runs the program and its providers (on 2 cores, two is plenty). */
export const CONCURRENCY = 2;

export interface PreviewArgs {
    /** One stack, or every stack (`--all`). */
    stack?: string;
    all: boolean;
    /** With --all: only the stacks the commits since this ref touch (scripts/changed-stacks.ts). */
    since?: string;
    summaryOnly: boolean;
}

/** The command line, checked: a bad or misplaced flag is named. */
export function parsePreviewArgs(argv: string[]): PreviewArgs {
    const args: PreviewArgs = { all: false, summaryOnly: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--all") args.all = true;
        else if (a === "--summary-only") args.summaryOnly = true;
        else if (a === "--since" || a.startsWith("--since=")) {
            const ref = a === "--since" ? argv[++i] : a.slice("--since=".length);
            if (!ref || ref.startsWith("-")) throw new Error(`--since needs a git ref (e.g. --since origin/main)\n${USAGE}`);
            args.since = ref;
        } else if (a.startsWith("-")) throw new Error(`unknown flag ${a}\n${USAGE}`);
        else if (args.stack) throw new Error(`one stack at a time (got ${args.stack} and ${a}); --all previews every stack\n${USAGE}`);
        else args.stack = a;
    }
    if (args.all && args.stack) throw new Error(`--all previews every stack: name no stack (got ${args.stack})\n${USAGE}`);
    if (args.since && !args.all) throw new Error(`--since chooses the stacks of --all; add --all\n${USAGE}`);
    if (!args.all && !args.stack) throw new Error(USAGE);
    return args;
}

/** The step of `pulumi preview --json` that an engine event stands for. */
function stepOf(e: EngineEvent): PreviewStep | undefined {
    const m = e.resourcePreEvent?.metadata;
    if (!m) return undefined;
    return {
        op: m.op,
        urn: m.urn,
        oldState: m.old ? { inputs: m.old.inputs, outputs: m.old.outputs } : undefined,
        newState: m.new ? { inputs: m.new.inputs } : undefined,
        diffReasons: m.diffs,
        replaceReasons: m.keys,
    };
}

export interface FleetOptions {
    /** The project (Pulumi.yaml, stacks/, policy/). */
    root: string;
    stacks: string[];
    /** Print each stack's `preview --diff` output (one block per stack, as it finishes). */
    diff: boolean;
    concurrency?: number;
    /** Progress lines (started / done in Ns). */
    progress?: (line: string) => void;
    /** Each stack's diff output, when `diff` is set: whole when the stack is done, or as it comes with `live`. */
    output?: (stack: string, text: string) => void;
    /** Pass the diff output on as it comes (for one stack: several would interleave). */
    live?: boolean;
}

/**
 * Previews the stacks, `concurrency` at a time, each with the policy pack. A stack whose
 * preview fails is reported with the last lines of its error; the others still run.
 */
export async function previewFleet(opts: FleetOptions): Promise<StackPreview[]> {
    // The Automation API runs <root>/bin/pulumi: scripts/automation/bin/pulumi is scripts/pulumi.sh.
    const pulumiCommand = await PulumiCommand.get({ root: path.join(opts.root, "scripts/automation"), skipVersionCheck: true });
    const ws = await LocalWorkspace.create({ workDir: opts.root, pulumiCommand });
    const progress = opts.progress ?? (() => {});
    // `stack select` writes the workspace's one settings file: one at a time.
    let selecting: Promise<unknown> = Promise.resolve();
    const select = (name: string) => {
        const next = selecting.then(() => Stack.select(name, ws));
        selecting = next.catch(() => {});
        return next;
    };

    const previewOne = async (stack: string): Promise<StackPreview> => {
        const started = Date.now();
        progress(`${stack}: started`);
        const steps: PreviewStep[] = [];
        const violations: PolicyViolation[] = [];
        const errors: string[] = [];
        let error: string | undefined;
        try {
            const s = await select(stack);
            const r = await s.preview({
                diff: opts.diff,
                onOutput: opts.live ? (text) => opts.output?.(stack, text) : undefined,
                color: "never",
                policyPacks: [path.join(opts.root, "policy")],
                onEvent: (e) => {
                    const step = stepOf(e);
                    if (step) steps.push(step);
                    const p = e.policyEvent;
                    if (p) violations.push({ policy: p.policyName, level: p.enforcementLevel, message: p.message, urn: p.resourceUrn });
                    if (e.diagnosticEvent?.severity === "error") errors.push(e.diagnosticEvent.message);
                },
            });
            if (opts.diff && !opts.live) opts.output?.(stack, r.stdout);
        } catch (e) {
            // The program's or the engine's own error when it reported one, else the CLI's output.
            error = lastLines(errors.length ? errors.join("\n") : (e as Error).message);
            // The whole output (the CLI's error carries it) goes with the diffs; the summary keeps the last lines.
            if (opts.diff && !opts.live) opts.output?.(stack, (e as Error).message);
        }
        const seconds = (Date.now() - started) / 1000;
        const verdict = error === undefined ? "done" : violations.some((v) => v.level === "mandatory") ? "policy failed" : "failed";
        progress(`${stack}: ${verdict} in ${Math.round(seconds)}s`);
        return { stack, steps, violations, error, seconds };
    };

    // Selecting is a side effect: the stack selected before is selected again at the end.
    const before = (await ws.stack().catch(() => undefined))?.name;
    const results = new Map<string, StackPreview>();
    const queue = [...opts.stacks];
    const worker = async () => {
        for (let stack = queue.shift(); stack !== undefined; stack = queue.shift()) results.set(stack, await previewOne(stack));
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? CONCURRENCY, queue.length) }, worker));
    if (before) await ws.selectStack(before).catch(() => {});
    return opts.stacks.map((s) => results.get(s)!);
}

async function main(): Promise<void> {
    const args = parsePreviewArgs(process.argv.slice(2));
    const stacks = args.stack ? [args.stack] : args.since ? await affectedStacks(ROOT, args.since) : stackFiles(ROOT);
    if (args.all) console.error(`[preview] ${stacks.length ? stacks.join(", ") : "no stack"}${args.since ? ` (affected since ${args.since})` : ""}`);
    const previews = await previewFleet({
        root: ROOT,
        stacks,
        diff: !args.summaryOnly,
        live: !args.all,
        progress: (l) => console.error(`[preview] ${l}`),
        output: (stack, text) => process.stdout.write(args.all ? `\n=== ${stack}: pulumi preview --diff ===\n${text}\n` : text),
    });
    console.log(`\n${summarizeFleet(previews)}`);
    if (fleetFailed(previews)) process.exitCode = 1;
}

if (require.main === module) {
    main().catch((e) => {
        console.error((e as Error).message);
        process.exit(2);
    });
}
