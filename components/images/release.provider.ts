// ImageRelease: points the version tag, `latest` and the channel tag at a
// tested digest. Moving a tag re-uses the manifest already in the registry; no
// layer is uploaded. A pin (stack config) moves them back: that is the rollback.
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { isDigest, isValidTag, RegistryClient, type RegistryAuth } from "../registry/client";
import { verifyImageSignature } from "../supply-chain/attachments";

export interface ImageReleaseInputs {
    name: string;
    registry: string;
    repository: string;
    /** The digest the tags point at (tested, or pinned). */
    digest: string;
    /** The version of that digest's build. */
    version: string;
    tags: string[];
    /** Why this digest: "latest build" or "pinned to <version|digest>". */
    reason: string;
    auth?: RegistryAuth;
    /** The fleet's public key (PEM): the digest must carry a signature that verifies with it, or no tag moves. */
    publicKey?: string;
}

export interface ImageReleaseOutputs extends ImageReleaseInputs {
    /** host/repo@sha256:… */
    ref: string;
    /** What each tag pointed at before this release first moved it (null: did not exist). */
    previous: Record<string, string | null>;
}

async function release(inputs: ImageReleaseInputs, previous: Record<string, string | null>): Promise<ImageReleaseOutputs> {
    const client = new RegistryClient(inputs.registry, { auth: inputs.auth });
    const where = `${inputs.registry}/${inputs.repository}`;
    if ((await client.resolve(inputs.repository, inputs.digest)) !== inputs.digest) {
        throw new Error(`${inputs.name}: ${where}@${inputs.digest} is not in the registry; cannot release it (${inputs.reason})`);
    }
    if (inputs.publicKey) {
        await verifyImageSignature(client, inputs.repository, inputs.digest, inputs.publicKey).catch((e: Error) => {
            throw new Error(`${inputs.name}: refusing to release ${where}@${inputs.digest} (${inputs.reason}): ${e.message}`);
        });
    }
    const prev = { ...previous };
    for (const tag of inputs.tags) {
        const before = await client.resolve(inputs.repository, tag);
        if (!(tag in prev)) prev[tag] = before ?? null;
        if (before === inputs.digest) continue;
        await client.tag(inputs.repository, inputs.digest, tag);
        console.log(`[release ${inputs.name}] ${where}:${tag} → ${inputs.digest}${before ? ` (was ${before})` : ""} — ${inputs.reason}`);
    }
    for (const tag of inputs.tags) {
        const now = await client.resolve(inputs.repository, tag);
        if (now !== inputs.digest) throw new Error(`${inputs.name}: ${where}:${tag} points at ${now}, not ${inputs.digest}, after the release`);
    }
    return { ...inputs, ref: `${where}@${inputs.digest}`, previous: prev };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (!isUnknown(news.digest) && (typeof news.digest !== "string" || !isDigest(news.digest))) {
            failures.push({ property: "digest", reason: `must be a sha256 digest, got ${JSON.stringify(news.digest)}` });
        }
        if (!isUnknown(news.tags)) {
            if (!Array.isArray(news.tags) || news.tags.length === 0) failures.push({ property: "tags", reason: "must be a non-empty list" });
            else for (const t of news.tags) if (!isUnknown(t) && !isValidTag(t)) failures.push({ property: "tags", reason: `${JSON.stringify(t)} is not a valid tag` });
        }
        return { inputs: news, failures };
    },
    diff: diffOn(["registry", "repository"], ["digest", "tags", "version"]),
    async create(inputs) {
        const outs = await release(inputs as ImageReleaseInputs, {});
        return { id: `${outs.registry}/${outs.repository}`, outs };
    },
    async update(_id, olds, news) {
        return { outs: await release(news as ImageReleaseInputs, (olds as ImageReleaseOutputs).previous ?? {}) };
    },
    async read(id, props) {
        // What the tags really point at now; a tag moved by hand shows as drift on refresh.
        const p = props as ImageReleaseOutputs;
        const client = new RegistryClient(p.registry, { auth: p.auth });
        const targets = await Promise.all(p.tags.map(async (t) => [t, await client.resolve(p.repository, t)] as const));
        const found = new Set(targets.map(([, d]) => d));
        if (found.size === 1 && targets[0][1] === p.digest) return { id, props: p };
        // All tags on one digest: that one. Tags that disagree: which points where — a value that is
        // never a digest, so that neither a second refresh nor the next diff takes it for the release.
        const digest = found.size === 1 ? (targets[0][1] ?? "none") : `tags disagree: ${targets.map(([t, d]) => `${t} → ${d ?? "none"}`).join(", ")}`;
        const now = { ...p, digest };
        // The inputs too, so that preview shows what the next up moves the tags back from.
        const { ref: _ref, previous: _previous, ...inputs } = now;
        return { id, props: now, inputs };
    },
    async delete(_id, props) {
        // The distribution API deletes manifests, not single tags; the builds'
        // delete removes the manifests (and every tag on them) this stack pushed.
        const p = props as ImageReleaseOutputs;
        console.log(`[release ${p.name}] tags ${p.tags.join(", ")} go with the manifests of ${p.registry}/${p.repository}`);
    },
};
