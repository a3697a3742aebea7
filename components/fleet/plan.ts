// The wave planner: which digest each site group's channel may point at, and why
// not. Pure: everything it knows arrives as arguments (the hub's release, what
// each site's outputs report, the channels' current targets, the clock), so the
// same inputs always give the same plan, and preview shows what up will do.
//
// Groups go in order (canary → wave-1 → rest). The first group follows the hub's
// latest tested release. Every later group is offered what the group before it
// runs (its channel before this plan, or its pin), and takes it only when every site of that group reports the digest
// released and healthy and the soak time has passed since the last of them
// released it. An unhealthy site halts the rollout there: no later group moves.
// A pin (rollback) sets a group's channel to a digest, whatever the rest says.

/** A hub's released image: the candidate for the first group. */
export interface ReleaseCandidate {
    digest: string;
    version: string;
    /** The image's tests on this digest. */
    tests?: { passed: number; total: number };
    /** The boot test on this digest, for bootable images. */
    boot?: { targetReached: boolean };
}

/** What one site's stack outputs say about one image. */
export interface SiteImageReport {
    digest: string;
    /** When the site first released this digest (ISO 8601). */
    since?: string;
    tests?: { passed: number; total: number };
    boot?: { targetReached: boolean };
}

/** One site's report, read from its stack outputs; undefined when it publishes none yet. */
export interface SiteReport {
    group?: string;
    images: Record<string, SiteImageReport>;
    /** The site's own health probe, if it has one. */
    health?: { healthy: boolean; checkedAt: string; detail: string };
}

export interface HealthCondition {
    /** Every test of the digest passed. */
    tests: boolean;
    /** The boot test reached its target (images that report one). */
    boot: boolean;
    /** The site's health probe must report healthy (a site without one is not healthy). */
    probe: boolean;
}

export interface GroupSpec {
    name: string;
    /** Site stacks, organization/project/stack. */
    sites: string[];
    /** Rollback: image → digest this group's channel is pinned to. */
    pins?: Record<string, string>;
}

export interface PlanInput {
    groups: GroupSpec[];
    images: string[];
    /** The hub's latest released build per image. */
    release: Record<string, ReleaseCandidate | undefined>;
    /** What each group's channel tag points at now (registry), per image. */
    current: Record<string, Record<string, string | undefined>>;
    /** Site stack → its report. */
    reports: Record<string, SiteReport | undefined>;
    soakSeconds: number;
    health: HealthCondition;
    /** Milliseconds since the epoch. */
    now: number;
}

/** "current": the channel already points at the target; "promote": it moves now; the others hold it. */
export type GroupStatus = "current" | "promote" | "waiting" | "halted" | "pinned";

export interface GroupImagePlan {
    /** The digest the channel points at after this plan; null when the group has none yet. */
    digest: string | null;
    /** What it points at now. */
    current: string | null;
    status: GroupStatus;
    /** Why: one line, stable for the same inputs (no relative times). */
    reason: string;
    /** The digest this group is offered (the previous group's, or the release). */
    offered: string | null;
    /** Waiting for the soak time: when it passes (ISO 8601). */
    waitUntil?: string;
}

export interface RolloutPlan {
    groups: Array<{ name: string; images: Record<string, GroupImagePlan> }>;
}

const short = (d: string | null | undefined) => (d ? d.replace(/^sha256:/, "").slice(0, 12) : "none");

/** Why a candidate is not tested, or undefined when it is. */
export function untested(c: ReleaseCandidate | undefined, health: HealthCondition): string | undefined {
    if (!c) return "the hub has no release of it";
    if (health.tests && (!c.tests || c.tests.total === 0 || c.tests.passed !== c.tests.total)) {
        return c.tests ? `its tests on ${short(c.digest)} did not all pass (${c.tests.passed}/${c.tests.total})` : `${short(c.digest)} has no test results`;
    }
    if (health.boot && c.boot && !c.boot.targetReached) return `its boot test on ${short(c.digest)} did not reach its target`;
    return undefined;
}

/** Why a site is not healthy on `digest`, or undefined when it is. */
function unhealthy(report: SiteImageReport, site: SiteReport, health: HealthCondition): string | undefined {
    if (health.tests && report.tests && report.tests.passed !== report.tests.total) return `tests ${report.tests.passed}/${report.tests.total}`;
    if (health.boot && report.boot && !report.boot.targetReached) return "its boot test did not reach its target";
    if (site.health && !site.health.healthy) return `health probe at ${site.health.checkedAt}: ${site.health.detail}`;
    if (health.probe && !site.health) return "it reports no health probe (rollout.health.probe is required)";
    return undefined;
}

/** The plan for one image through all groups. */
function planImage(input: PlanInput, image: string): GroupImagePlan[] {
    const out: GroupImagePlan[] = [];
    let haltedAt: { group: string; why: string } | undefined;
    for (const [i, g] of input.groups.entries()) {
        const current = input.current[g.name]?.[image] ?? null;
        const hold = (status: GroupStatus, reason: string, offered: string | null, waitUntil?: string): GroupImagePlan => ({
            digest: current,
            current,
            status,
            reason,
            offered,
            ...(waitUntil ? { waitUntil } : {}),
        });
        const pin = g.pins?.[image];
        if (pin) {
            out.push({ digest: pin, current, status: "pinned", reason: `pinned to ${short(pin)} (rollout.groups[${i}].pins.${image}): rollback`, offered: pin });
            continue;
        }
        if (haltedAt) {
            out.push(hold("halted", `rollout halted at ${haltedAt.group}: ${haltedAt.why}`, out[i - 1].digest));
            continue;
        }
        if (i === 0) {
            const c = input.release[image];
            const why = untested(c, input.health);
            if (why) {
                out.push(hold("waiting", `the hub's release is not promotable: ${why}`, c?.digest ?? null));
                continue;
            }
            const target = c!.digest;
            out.push(
                target === current
                    ? { digest: target, current, status: "current", reason: `the hub's latest tested release ${c!.version} (${short(target)})`, offered: target }
                    : { digest: target, current, status: "promote", reason: `the hub's latest tested release ${c!.version} (${short(target)}), was ${short(current)}`, offered: target },
            );
            continue;
        }
        // Offered what the group before runs now (its channel before this plan), or
        // its pin: a release that reaches the canary in this plan waits its turn.
        const prev = input.groups[i - 1];
        const offered = out[i - 1].status === "pinned" ? out[i - 1].digest : out[i - 1].current;
        if (offered === null) {
            out.push(hold("waiting", `${prev.name} has no ${image} yet`, null));
            continue;
        }
        // Health first: an unhealthy site of the group before halts the rollout even
        // when this group already runs the same digest (nothing after it moves).
        const problems: string[] = [];
        const waiting: string[] = [];
        let lastSince = 0;
        for (const site of prev.sites) {
            const r = input.reports[site];
            const img = r?.images[image];
            if (!r) waiting.push(`${site} publishes no outputs yet`);
            else if (r.group !== undefined && r.group !== prev.name) waiting.push(`${site} reports group ${r.group}, not ${prev.name}`);
            else if (!img) waiting.push(`${site} publishes no ${image}`);
            else if (img.digest !== offered) waiting.push(`${site} runs ${short(img.digest)}, not ${short(offered)}`);
            else {
                const bad = unhealthy(img, r, input.health);
                if (bad) problems.push(`${site} is unhealthy on ${short(offered)}: ${bad}`);
                const since = img.since ? Date.parse(img.since) : Number.NaN;
                if (Number.isNaN(since)) waiting.push(`${site} does not say when it released ${short(offered)}`);
                else lastSince = Math.max(lastSince, since);
            }
        }
        if (problems.length) {
            haltedAt = { group: prev.name, why: problems.join("; ") };
            out.push(hold("halted", `halted: ${haltedAt.why}`, offered));
            continue;
        }
        if (current === offered) {
            out.push({ digest: current, current, status: "current", reason: `runs what ${prev.name} runs (${short(offered)})`, offered });
            continue;
        }
        if (waiting.length) {
            out.push(hold("waiting", `waiting for ${prev.name}: ${waiting.join("; ")}`, offered));
            continue;
        }
        const soakEnd = lastSince + input.soakSeconds * 1000;
        if (input.now < soakEnd) {
            const until = new Date(soakEnd).toISOString();
            out.push(hold("waiting", `waiting until ${until}: ${prev.name} soaks ${short(offered)} for ${input.soakSeconds}s`, offered, until));
            continue;
        }
        out.push({
            digest: offered,
            current,
            status: "promote",
            reason: `every site of ${prev.name} runs ${short(offered)} healthy and soaked ${input.soakSeconds}s, was ${short(current)}`,
            offered,
        });
    }
    return out;
}

/** Plans every group's channel for every image. */
export function planRollout(input: PlanInput): RolloutPlan {
    const perImage = Object.fromEntries(input.images.map((image) => [image, planImage(input, image)]));
    return {
        groups: input.groups.map((g, i) => ({ name: g.name, images: Object.fromEntries(input.images.map((image) => [image, perImage[image][i]])) })),
    };
}

/** "90s", "30m", "2h", "7d" or a number of seconds → seconds. */
export function parseDuration(text: string | number): number {
    if (typeof text === "number") return text;
    const m = /^(\d+)(s|m|h|d)$/.exec(text);
    if (!m) throw new Error(`must be a duration such as 30m, 2h or 1d, got ${JSON.stringify(text)}`);
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "s" | "m" | "h" | "d"];
}
