// What a pull request's preview means for the fleet, from the preview's steps
// (as `pulumi preview --json` shapes them; scripts/preview.ts makes them from the
// Automation API's engine events): which images
// rebuild and why, which tags and channels move, which disks and boot artifact
// sets are remade; and for `npm run preview -- --all`, every stack's summary,
// policy failures and failed previews as one Markdown text. Pure.

export interface PreviewStep {
    op: string;
    urn: string;
    oldState?: { inputs?: Record<string, any>; outputs?: Record<string, any> };
    newState?: { inputs?: Record<string, any> };
    diffReasons?: string[];
    replaceReasons?: string[];
}

const CHANGING = new Set(["create", "update", "replace", "create-replacement", "delete", "delete-replaced"]);
import { unknownValue as UNKNOWN } from "@pulumi/pulumi/runtime/rpc";
import { staleness } from "../components/images/build.provider";

const typeOf = (urn: string) => urn.split("::")[2]?.split("$").pop() ?? "";
const nameOf = (urn: string) => urn.split("::")[3] ?? urn;
const short = (v: unknown) => (typeof v === "string" && v.startsWith("sha256:") ? v.slice(0, 19) : JSON.stringify(v));
const known = (v: unknown) => v !== undefined && v !== UNKNOWN;

function rebuildReason(step: PreviewStep, now: number): string {
    if (step.op === "create") return "new image";
    if (step.op === "delete") return "no longer selected: its pushed builds are deleted";
    const reasons = step.diffReasons ?? [];
    const olds = step.oldState?.inputs ?? {};
    const news = step.newState?.inputs ?? {};
    const why: string[] = [];
    if (reasons.includes("version")) why.push(`version ${olds.version} → ${news.version}`);
    if (reasons.includes("definitionHash")) why.push(`definition changed (${short(olds.definitionHash)} → ${short(news.definitionHash)})`);
    if (reasons.includes("parentRef")) why.push(known(news.parentRef) ? "its parent moved to another digest" : "its parent rebuilds");
    if (reasons.includes("repository") || reasons.includes("registry")) why.push(`moves to ${news.registry}/${news.repository}`);
    const stale = !reasons.length && staleness(step.oldState?.outputs ?? {}, news, now);
    if (stale) why.push(`${stale}; released again only if a package changed`);
    return why.join("; ") || reasons.join(", ") || step.op;
}

/** The summary as Markdown (fine in a terminal too). */
export function summarizePreview(stack: string, steps: PreviewStep[], now = Date.now()): string {
    const changing = steps.filter((s) => CHANGING.has(s.op));
    const of = (type: string) => changing.filter((s) => typeOf(s.urn).endsWith(`image-factory:${type}`) && s.op !== "delete-replaced");
    const lines = [`### image-factory preview: stack \`${stack}\``, ""];

    const builds = of("ImageBuild");
    lines.push(`**Images that rebuild (${builds.length})**`);
    for (const s of builds) lines.push(`- \`${nameOf(s.urn)}\`: ${rebuildReason(s, now)}`);
    if (!builds.length) lines.push("- none: every image's definition and parent are unchanged");

    lines.push("", "**Tags that move**");
    const releases = of("ImageRelease");
    for (const s of releases) {
        const n = s.newState?.inputs ?? {};
        const where = `${n.registry}/${n.repository}`;
        const target = known(n.digest) ? short(n.digest) : "the new tested build";
        const tags = Array.isArray(n.tags) ? n.tags.filter(known).join(", ") : "its tags";
        lines.push(`- \`${where}\`: ${tags} → ${target}${n.reason ? ` (${n.reason})` : ""}`);
    }
    for (const s of of("RegistryMirror")) {
        const n = s.newState?.inputs ?? {};
        lines.push(`- \`${n.registry}/${n.repository}\`: mirrored from the hub → ${known(n.digest) ? short(n.digest) : "the hub's new digest"}`);
    }
    if (!releases.length && !of("RegistryMirror").length) lines.push("- none");

    const channels = of("GroupChannel");
    if (channels.length) {
        lines.push("", "**Channels that move**");
        for (const s of channels) {
            const o = s.oldState?.inputs ?? {};
            const n = s.newState?.inputs ?? {};
            const where = `${n.registry}/${n.repository}:${n.tag}`;
            const to = !n.digest ? "not set" : !known(n.digest) ? "the new tested build" : n.digest === o.digest ? `stays at ${short(n.digest)}` : `→ ${short(n.digest)}`;
            lines.push(`- \`${where}\` (group ${n.group}): ${to} — ${n.status}: ${n.reason}`);
        }
    }

    const disks = of("PreStagedDisk");
    lines.push("", `**Disks that are remade (${disks.length})**`);
    for (const s of disks) lines.push(`- \`${nameOf(s.urn)}\`: ${s.op === "create" ? "new disk" : (s.diffReasons ?? []).join(", ") || s.op}`);
    if (!disks.length) lines.push("- none");

    const bootSets = of("BootArtifacts");
    if (bootSets.length) {
        lines.push("", `**Boot artifact sets that are remade (${bootSets.length})**`);
        for (const s of bootSets) {
            const n = s.newState?.inputs ?? {};
            const why = s.op === "create" ? "new set" : (s.diffReasons ?? []).includes("ref") ? "its image moved to another digest" : (s.diffReasons ?? []).join(", ") || s.op;
            lines.push(`- \`${n.image ?? nameOf(s.urn)}\`: ${why}`);
        }
    }

    const others = changing.filter(
        (s) => !/image-factory:(ImageBuild|ImageTest|ImageRelease|RegistryMirror|PreStagedDisk|GroupChannel|BootArtifacts)$/.test(typeOf(s.urn)) && !typeOf(s.urn).startsWith("pulumi:pulumi:Stack"),
    );
    if (others.length) {
        lines.push("", `**Other changes (${others.length})**`);
        for (const s of others) lines.push(`- ${s.op} \`${typeOf(s.urn)}\` \`${nameOf(s.urn)}\`${s.diffReasons?.length ? `: ${s.diffReasons.join(", ")}` : ""}`);
    }
    return `${lines.join("\n")}\n`;
}

/** A policy pack's verdict on one resource or the stack, as the engine reports it. */
export interface PolicyViolation {
    policy: string;
    level: string;
    message: string;
    urn?: string;
}

/** One stack's preview as `npm run preview -- --all` ran it. */
export interface StackPreview {
    stack: string;
    steps: PreviewStep[];
    violations: PolicyViolation[];
    /** The last lines of the engine's or program's error; absent when the preview ran. */
    error?: string;
    seconds: number;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: a program's error text carries colour escapes
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** The last `n` lines of a tool's error text, without colour codes or a JavaScript stack trace's frames (they bury the message). */
export function lastLines(text: string, n = 15): string {
    const lines = text.replace(ANSI, "").trimEnd().split("\n");
    const message = lines.filter((l) => !/^\s+at \S/.test(l));
    return (message.length ? message : lines).slice(-n).join("\n");
}

const mandatory = (p: StackPreview) => p.violations.filter((v) => v.level === "mandatory");

/** The stack failed for a reason other than the policy pack: its summary would be partial. */
const failed = (p: StackPreview) => p.error !== undefined && !mandatory(p).length;

/** True when the fleet preview must fail: a stack failed, or a mandatory policy did. */
export function fleetFailed(previews: StackPreview[]): boolean {
    return previews.some((p) => p.error !== undefined || mandatory(p).length > 0);
}

/** Every stack's preview as one Markdown summary: an overview line per site, then each site's summary. */
export function summarizeFleet(previews: StackPreview[], now = Date.now()): string {
    const lines = [`## image-factory fleet preview (${previews.length} ${previews.length === 1 ? "stack" : "stacks"})`, ""];
    for (const p of previews) {
        const verdict = failed(p) ? "**preview failed**" : mandatory(p).length ? `**policy failed** (${mandatory(p).length})` : "previewed";
        lines.push(`- \`${p.stack}\`: ${verdict} in ${Math.round(p.seconds)}s`);
    }
    if (!previews.length) lines.push("- no stack is affected");
    for (const p of previews) {
        lines.push("");
        if (failed(p)) {
            lines.push(`### image-factory preview: stack \`${p.stack}\` — failed`, "", "Its last lines:", "", "```", (p.error ?? "").replaceAll("```", "'''"), "```", "");
            continue;
        }
        lines.push(summarizePreview(p.stack, p.steps, now).trimEnd());
        const warnings = p.violations.filter((v) => v.level !== "mandatory");
        for (const [title, list] of [
            ["Policy failures", mandatory(p)],
            ["Policy warnings", warnings],
        ] as const) {
            if (!list.length) continue;
            lines.push("", `**${title} (${list.length})**`);
            for (const v of list) {
                const where = v.urn ? ` (\`${v.urn.split("::").slice(2).join("::")}\`)` : "";
                lines.push(`- [${v.level}] \`${v.policy}\`${where}: ${lastLines(v.message, 20).replace(/\s*\n\s*/g, " ")}`);
            }
        }
        lines.push("");
    }
    return `${lines.join("\n").trimEnd()}\n`;
}
