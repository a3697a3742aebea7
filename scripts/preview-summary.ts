// What a pull request's preview means for the fleet, from `pulumi preview --json`:
// which images rebuild and why, which tags move, which disks are remade. Pure.

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

    const disks = of("PreStagedDisk");
    lines.push("", `**Disks that are remade (${disks.length})**`);
    for (const s of disks) lines.push(`- \`${nameOf(s.urn)}\`: ${s.op === "create" ? "new disk" : (s.diffReasons ?? []).join(", ") || s.op}`);
    if (!disks.length) lines.push("- none");

    const others = changing.filter((s) => !/image-factory:(ImageBuild|ImageTest|ImageRelease|RegistryMirror|PreStagedDisk)$/.test(typeOf(s.urn)) && !typeOf(s.urn).startsWith("pulumi:pulumi:Stack"));
    if (others.length) {
        lines.push("", `**Other changes (${others.length})**`);
        for (const s of others) lines.push(`- ${s.op} \`${typeOf(s.urn)}\` \`${nameOf(s.urn)}\`${s.diffReasons?.length ? `: ${s.diffReasons.join(", ")}` : ""}`);
    }
    return `${lines.join("\n")}\n`;
}
