// The hub's fleet sections — rollout (image-factory:rollout) and retention — and
// the keys a site of a rollout group sets (hub.group, hub.healthProbe): the rules
// the schema cannot say.
import { type GroupSpec, type HealthCondition, parseDuration } from "../components/fleet";
import { isLoopback } from "../components/registry";
import type { Section } from "./config";

export interface RolloutConfig {
    soakSeconds: number;
    health: HealthCondition;
    /** In rollout order. */
    groups: GroupSpec[];
}

export interface RetentionConfig {
    keepLast: number;
    /** image → its own keepLast. */
    repositories: Record<string, { keepLast: number }>;
    /** Fleet stacks whose outputs protect the digests they mention, besides the rollout's sites. */
    stacks: string[];
}

export function retentionSection({ values: v, fail, failed }: Section): RetentionConfig | undefined {
    const r = v.retention;
    if (!r || failed("retention")) return undefined;
    if (v.hub) fail("retention", "is for a stack that builds: a site that mirrors a hub keeps what its hub keeps");
    return { keepLast: r.keepLast ?? 10, repositories: r.repositories ?? {}, stacks: r.stacks ?? [] };
}

export function rolloutSection({ values: v, fail, failed }: Section): RolloutConfig | undefined {
    const hub = failed("hub") ? undefined : v.hub;
    if (hub?.healthProbe && !hub.group) fail("hub.healthProbe", "is reported to the hub with hub.group; set hub.group too");
    if (hub?.healthProbe?.startsWith("http://") && !isLoopback(new URL(hub.healthProbe).host))
        fail("hub.healthProbe", `plain http is only for loopback; use https, got ${JSON.stringify(hub.healthProbe)}`);

    const r = v.rollout;
    if (!r || failed("rollout")) return undefined;
    if (v.hub) fail("rollout", "is the hub's: a site that mirrors a hub follows its group (hub.group)");
    if (v.images?.channel) fail("images.channel", "a hub with rollout.groups moves one channel per group (the group's name); remove images.channel");
    const seen = new Map<string, string>();
    r.groups.forEach((g, i) => {
        if (g.name === "latest") fail(`rollout.groups[${i}].name`, '"latest" is always moved by the hub; pick another group name');
        if (r.groups.findIndex((x) => x.name === g.name) !== i) fail(`rollout.groups[${i}].name`, `"${g.name}" names two groups`);
        for (const site of g.sites) {
            const other = seen.get(site);
            if (other !== undefined) fail(`rollout.groups[${i}].sites`, `${site} is already in group ${other}; a site follows one group`);
            else seen.set(site, g.name);
        }
    });
    const h = r.health ?? {};
    return {
        soakSeconds: parseDuration(r.soak ?? "1h"),
        health: { tests: h.tests ?? true, boot: h.boot ?? true, probe: h.probe ?? false },
        groups: r.groups.map((g) => ({ name: g.name, sites: g.sites, pins: g.pins ?? {} })),
    };
}
