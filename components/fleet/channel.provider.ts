// GroupChannel: a site group's channel tag in the hub's registry (one per group
// and image), pointed where the wave planner says. Its state carries the plan's
// status and reason, so `preview --diff` shows the tag move and why, or why the
// channel holds (waiting for a soak, halted by an unhealthy canary, pinned).
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { isDigest, isValidTag, RegistryClient, type RegistryAuth } from "../registry/client";

export interface GroupChannelInputs {
    image: string;
    group: string;
    registry: string;
    repository: string;
    /** The channel tag (the group's name). */
    tag: string;
    /** The digest the tag points at; "" while the group has none yet (the tag is left alone). */
    digest: string;
    /** The planner's verdict: current, promote, waiting, halted, pinned. */
    status: string;
    reason: string;
    auth?: RegistryAuth;
}

export type GroupChannelOutputs = GroupChannelInputs;

async function point(i: GroupChannelInputs): Promise<GroupChannelOutputs> {
    const where = `${i.registry}/${i.repository}:${i.tag}`;
    if (!i.digest) {
        console.log(`[channel ${i.group}/${i.image}] ${where} not set: ${i.reason}`);
        return i;
    }
    const client = new RegistryClient(i.registry, { auth: i.auth });
    const before = await client.resolve(i.repository, i.tag);
    if (before !== i.digest) {
        // tag() fails naming the host and digest when the manifest is not there.
        await client.tag(i.repository, i.digest, i.tag);
        const now = await client.resolve(i.repository, i.tag);
        if (now !== i.digest) throw new Error(`[channel ${i.group}/${i.image}] ${where} points at ${now}, not ${i.digest}, after moving it`);
    }
    console.log(`[channel ${i.group}/${i.image}] ${where} → ${i.digest}${before && before !== i.digest ? ` (was ${before})` : ""} — ${i.status}: ${i.reason}`);
    return i;
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (!isUnknown(news.digest) && !(news.digest === "" || (typeof news.digest === "string" && isDigest(news.digest)))) {
            failures.push({ property: "digest", reason: `must be a sha256 digest or empty, got ${JSON.stringify(news.digest)}` });
        }
        if (!isUnknown(news.tag) && !(typeof news.tag === "string" && isValidTag(news.tag) && news.tag !== "latest")) {
            failures.push({ property: "tag", reason: `must be a valid tag other than latest, got ${JSON.stringify(news.tag)}` });
        }
        return { inputs: news, failures };
    },
    diff: diffOn(["registry", "repository", "tag"], ["digest", "status", "reason"]),
    async create(inputs) {
        const outs = await point(inputs as GroupChannelInputs);
        return { id: `${outs.registry}/${outs.repository}:${outs.tag}`, outs };
    },
    async update(_id, _olds, news) {
        return { outs: await point(news as GroupChannelInputs) };
    },
    async read(id, props) {
        // Where the tag really points; a tag moved by hand shows as drift on refresh.
        const p = props as GroupChannelOutputs;
        const now = (await new RegistryClient(p.registry, { auth: p.auth }).resolve(p.repository, p.tag)) ?? "";
        return { id, props: { ...p, digest: now } };
    },
    async delete(_id, props) {
        // The distribution API deletes manifests, not tags; a channel's manifest
        // belongs to the builds (and other tags may point at it), so it stays.
        const p = props as GroupChannelOutputs;
        console.log(`[channel ${p.group}/${p.image}] ${p.registry}/${p.repository}:${p.tag} is no longer managed (the tag stays on ${p.digest || "nothing"})`);
    },
};
