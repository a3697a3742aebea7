// RegistryRetention: deletes the manifests a retention plan removes from one
// repository. The plan is the resource's input, so a preview lists what would
// be deleted and the bytes; at run time every removal is checked again against
// the registry and the protected digests (read from the fleet's outputs by this
// same `up`), and a digest any of them still references is kept.
import type { ProviderImpl } from "../dynamic";
import { changedKeys } from "../dynamic";
import { RegistryClient, type RegistryAuth } from "../registry/client";

export interface RetentionRemoval {
    digest: string;
    version: string;
    tags: string[];
    bytes: number;
}

export interface RegistryRetentionInputs {
    registry: string;
    repository: string;
    remove: RetentionRemoval[];
    /** Digests that must not be deleted, whatever the plan says. */
    protected: string[];
    /** Tags that are versions: the only tags a removed manifest may carry. */
    versionTags: string[];
    auth?: RegistryAuth;
}

export interface RegistryRetentionOutputs extends RegistryRetentionInputs {
    /** What the last run deleted, and what it kept after all (with why). */
    deleted: RetentionRemoval[];
    skipped: Array<{ digest: string; why: string }>;
    /** Bytes the registry's garbage collection can reclaim from the deleted manifests. */
    bytesFreed: number;
}

/** Why a planned removal must stay after all, or undefined. */
export async function recheck(client: RegistryClient, i: RegistryRetentionInputs, r: RetentionRemoval, tagTargets: Record<string, string | undefined>): Promise<string | undefined> {
    if (i.protected.includes(r.digest)) return "a fleet stack, pin or channel references it";
    if ((await client.resolve(i.repository, r.digest)) !== r.digest) return "already gone";
    const holding = Object.entries(tagTargets).filter(([t, d]) => d === r.digest && !i.versionTags.includes(t));
    if (holding.length) return `tag ${holding.map(([t]) => t).join(", ")} points at it now`;
    return undefined;
}

async function apply(i: RegistryRetentionInputs): Promise<RegistryRetentionOutputs> {
    const client = new RegistryClient(i.registry, { auth: i.auth });
    const where = `${i.registry}/${i.repository}`;
    const tagTargets: Record<string, string | undefined> = {};
    if (i.remove.length) for (const t of await client.listTags(i.repository)) tagTargets[t] = await client.resolve(i.repository, t);
    const deleted: RetentionRemoval[] = [];
    const skipped: RegistryRetentionOutputs["skipped"] = [];
    for (const r of i.remove) {
        const why = await recheck(client, i, r, tagTargets);
        if (why) {
            skipped.push({ digest: r.digest, why });
            console.log(`[retention ${where}] keeps ${r.digest} (${r.version}): ${why}`);
            continue;
        }
        await client.deleteManifest(i.repository, r.digest);
        deleted.push(r);
        console.log(`[retention ${where}] deleted ${r.digest} (${r.version}${r.tags.length ? `, tags ${r.tags.join(", ")}` : ""}; ${r.bytes} bytes for garbage collection)`);
    }
    const bytesFreed = deleted.reduce((n, r) => n + r.bytes, 0);
    if (i.remove.length) console.log(`[retention ${where}] ${deleted.length} manifests deleted, ${bytesFreed} bytes freed for garbage collection, ${skipped.length} kept after the recheck`);
    return { ...i, deleted, skipped, bytesFreed };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        return { inputs: news, failures: [] };
    },
    async diff(_id, olds, news) {
        const replaces = changedKeys(olds, news, ["registry", "repository"]);
        // Nothing to remove is no change: the last run's removals stay in state until the next ones.
        const changed = Array.isArray(news.remove) && news.remove.length === 0 ? [] : changedKeys(olds, news, ["remove"]);
        return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
    },
    async create(inputs) {
        const outs = await apply(inputs as RegistryRetentionInputs);
        return { id: `${outs.registry}/${outs.repository}`, outs };
    },
    async update(_id, _olds, news) {
        return { outs: await apply(news as RegistryRetentionInputs) };
    },
    async delete() {
        // Forgetting the policy deletes nothing.
    },
};
