// SiteRelease: what a site of a rollout group reports to its hub through its
// stack outputs: since when it runs each digest (the soak clock starts there) and
// its health probe's verdict. The probe runs when a digest changes and on every
// refresh (`up --refresh`), so the hub's next plan sees current health.
import type { ProviderImpl } from "../dynamic";
import { diffOn } from "../dynamic";

export interface SiteReleaseInputs {
    group: string;
    /** image → the digest the site released. */
    digests: Record<string, string>;
    /** An http(s) URL answering 2xx when the site is healthy; "" for none. */
    probe: string;
}

export interface Health {
    healthy: boolean;
    checkedAt: string;
    detail: string;
}

export interface SiteReleaseOutputs extends SiteReleaseInputs {
    /** image → when this site first released its current digest (ISO 8601). */
    since: Record<string, string>;
    /** null without a probe. */
    health: Health | null;
}

const PROBE_TIMEOUT_MS = 10_000;

/** GET the probe URL: healthy on 2xx; the status line or the error otherwise. */
export async function probeHealth(url: string, now = () => new Date()): Promise<Health> {
    const checkedAt = now().toISOString();
    try {
        const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: "manual" });
        const text = (await res.text()).slice(0, 200).replace(/\s+/g, " ").trim();
        const detail = `GET ${url}: ${res.status} ${res.statusText}${text ? ` — ${text}` : ""}`;
        return { healthy: res.status >= 200 && res.status < 300, checkedAt, detail };
    } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        return { healthy: false, checkedAt, detail: `GET ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}` };
    }
}

/** Keeps the time of digests that did not change; stamps the others now. */
export function sinceTimes(digests: Record<string, string>, old: Partial<SiteReleaseOutputs> | undefined, now: Date): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [image, digest] of Object.entries(digests)) {
        const kept = old?.digests?.[image] === digest ? old.since?.[image] : undefined;
        out[image] = kept ?? now.toISOString();
    }
    return out;
}

async function report(i: SiteReleaseInputs, old?: SiteReleaseOutputs): Promise<SiteReleaseOutputs> {
    const health = i.probe ? await probeHealth(i.probe) : null;
    if (health) console.log(`[rollout ${i.group}] health ${health.healthy ? "ok" : "FAILED"}: ${health.detail}`);
    return { ...i, since: sinceTimes(i.digests, old, new Date()), health };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (typeof news.probe === "string" && news.probe !== "" && !/^https?:\/\//.test(news.probe))
            failures.push({ property: "probe", reason: `must be an http(s) URL, got ${JSON.stringify(news.probe)}` });
        return { inputs: news, failures };
    },
    diff: diffOn([], ["group", "digests", "probe"]),
    async create(inputs) {
        const outs = await report(inputs as SiteReleaseInputs);
        return { id: `rollout-${outs.group}`, outs };
    },
    async update(_id, olds, news) {
        return { outs: await report(news as SiteReleaseInputs, olds as SiteReleaseOutputs) };
    },
    async read(id, props) {
        // Refresh re-runs the probe: health is what the site answers now.
        const p = props as SiteReleaseOutputs;
        return { id, props: p.probe ? { ...p, health: await probeHealth(p.probe) } : p };
    },
    async delete() {},
};
