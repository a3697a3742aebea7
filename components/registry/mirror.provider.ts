// RegistryMirror: copies one image, by digest, from a source registry (the
// hub's) into this site's registry, then sets its tags. Only the blobs the
// site lacks travel; the digest is unchanged, so what devices pull here is
// byte for byte what the hub built and tested.
import type { ProviderImpl } from "../dynamic";
import { diffOn, isUnknown } from "../dynamic";
import { verifyImageSignature } from "../supply-chain/attachments";
import { attachmentTag } from "../supply-chain/sigstore";
import { isDigest, isValidRepository, isValidTag, type Manifest, readHostedManifest, RegistryClient, type RegistryAuth } from "./client";

export interface MirrorInputs {
    name: string;
    sourceRegistry: string;
    sourceRepository: string;
    digest: string;
    registry: string;
    repository: string;
    tags: string[];
    sourceAuth?: RegistryAuth;
    auth?: RegistryAuth;
    /**
     * The fleet's public key (PEM): the image must carry a signature by it in the
     * source registry, or nothing is copied; its signature and attestations
     * (<repo>:sha256-<hex>.sig/.att) are copied with it.
     */
    publicKey?: string;
}

export interface MirrorOutputs extends MirrorInputs {
    ref: string;
    /** Blobs uploaded by the last create/update, and those already present. */
    copiedBlobs: number;
    skippedBlobs: number;
    copiedBytes: number;
}

interface CopyStats {
    copiedBlobs: number;
    skippedBlobs: number;
    copiedBytes: number;
}

interface ManifestJson {
    mediaType?: string;
    config?: { digest: string };
    layers?: Array<{ digest: string }>;
    manifests?: Array<{ digest: string }>;
}

async function copyManifest(from: RegistryClient, to: RegistryClient, i: MirrorInputs, digest: string, stats: CopyStats): Promise<Manifest> {
    const m = await from.getManifest(i.sourceRepository, digest);
    if (!m) throw new Error(`${i.name}: ${i.sourceRegistry}/${i.sourceRepository}@${digest} does not exist in the source registry`);
    const json = JSON.parse(m.body.toString("utf8")) as ManifestJson;
    // An index: copy each platform's manifest first.
    for (const child of json.manifests ?? []) {
        if (!(await to.resolve(i.repository, child.digest))) await copyManifest(from, to, i, child.digest, stats);
    }
    for (const blob of [...(json.config ? [json.config] : []), ...(json.layers ?? [])]) {
        if (await to.hasBlob(i.repository, blob.digest)) {
            stats.skippedBlobs++;
            continue;
        }
        stats.copiedBytes += await to.copyBlobFrom(from, i.sourceRepository, i.repository, blob.digest);
        stats.copiedBlobs++;
    }
    await to.putManifest(i.repository, digest, m);
    return m;
}

/** Copies the image's signature and attestations (tags sha256-<hex>.sig/.att) when the source has them. */
async function copyAttachments(from: RegistryClient, to: RegistryClient, i: MirrorInputs, stats: CopyStats): Promise<void> {
    for (const kind of ["sig", "att"] as const) {
        const tag = attachmentTag(i.digest, kind);
        const source = await from.resolve(i.sourceRepository, tag);
        if (!source || (await to.resolve(i.repository, tag)) === source) continue;
        const m = await copyManifest(from, to, i, source, stats);
        await to.putManifest(i.repository, tag, m);
    }
}

async function mirror(i: MirrorInputs): Promise<MirrorOutputs> {
    const from = new RegistryClient(i.sourceRegistry, { auth: i.sourceAuth });
    const to = new RegistryClient(i.registry, { auth: i.auth });
    const stats: CopyStats = { copiedBlobs: 0, skippedBlobs: 0, copiedBytes: 0 };
    // Signatures name the repository they were made for: the hub's.
    const identity = `${i.sourceRegistry}/${i.sourceRepository}`;
    if (i.publicKey) {
        await verifyImageSignature(from, i.sourceRepository, i.digest, i.publicKey, identity).catch((e: Error) => {
            throw new Error(`${i.name}: will not mirror ${identity}@${i.digest}: ${e.message}`);
        });
    }
    const present = (await to.resolve(i.repository, i.digest)) === i.digest;
    const m = present ? (await to.getManifest(i.repository, i.digest))! : await copyManifest(from, to, i, i.digest, stats);
    if (i.publicKey) {
        await copyAttachments(from, to, i, stats);
        await verifyImageSignature(to, i.repository, i.digest, i.publicKey, identity);
    }
    for (const tag of i.tags) {
        if ((await to.resolve(i.repository, tag)) !== i.digest) await to.putManifest(i.repository, tag, m);
    }
    console.log(
        `[mirror ${i.name}] ${i.sourceRegistry}/${i.sourceRepository}@${i.digest} → ${i.registry}/${i.repository} ` +
            `(${stats.copiedBlobs} blobs copied, ${(stats.copiedBytes / 1048576).toFixed(1)} MiB; ${stats.skippedBlobs} already there; tags ${i.tags.join(", ")})`,
    );
    return { ...i, ref: `${i.registry}/${i.repository}@${i.digest}`, ...stats };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (!isUnknown(news.digest) && !(typeof news.digest === "string" && isDigest(news.digest))) {
            failures.push({ property: "digest", reason: `images are mirrored by digest; got ${JSON.stringify(news.digest)}` });
        }
        for (const k of ["sourceRepository", "repository"]) {
            if (!isUnknown(news[k]) && !(typeof news[k] === "string" && isValidRepository(news[k]))) failures.push({ property: k, reason: `${JSON.stringify(news[k])} is not a valid repository name` });
        }
        if (!isUnknown(news.tags) && !(Array.isArray(news.tags) && news.tags.every((t: unknown) => isUnknown(t) || (typeof t === "string" && isValidTag(t))))) {
            failures.push({ property: "tags", reason: "must be a list of valid tags" });
        }
        return { inputs: news, failures };
    },
    diff: diffOn(["registry", "repository"], ["digest", "tags", "sourceRegistry", "sourceRepository", "publicKey"]),
    async create(inputs) {
        const outs = await mirror(inputs as MirrorInputs);
        return { id: `${outs.registry}/${outs.repository}`, outs };
    },
    async update(_id, _olds, news) {
        return { outs: await mirror(news as MirrorInputs) };
    },
    read: (id, props) => readHostedManifest(id, props as MirrorOutputs),
    async delete(_id, props) {
        const p = props as MirrorOutputs;
        const to = new RegistryClient(p.registry, { auth: p.auth });
        for (const kind of ["sig", "att"] as const) {
            const copy = await to.resolve(p.repository, attachmentTag(p.digest, kind));
            if (copy) await to.deleteManifest(p.repository, copy);
        }
        await to.deleteManifest(p.repository, p.digest);
    },
};
