// Image archives: every content set's references resolved in their registry
// (digest, media type, size) before anything is written, then each image
// archived with skopeo and checked against the registry's digest.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { run } from "../exec";
import { sha256File } from "../hash";
import { containerToolFlags, formatRef, parseRef, RegistryClient, RegistryError, withAuthFile, type ImageRef, type RegistryAuth } from "../registry/client";

export interface Credentials extends RegistryAuth {
    /** host[:port] these credentials are for; other registries are read anonymously. */
    registry: string;
}

export interface ManifestEntry {
    contentSet: string;
    /** registry/repository@sha256:… — the name the image is loaded under. */
    ref: string;
    /** The reference as the content set gave it. */
    source: string;
    digest: string;
    mediaType: string;
    /** Path on the partition. */
    archive: string;
    archiveSha256: string;
    archiveSize: number;
}

export interface ResolvedImage {
    contentSet: string;
    source: string;
    image: ImageRef;
    digest: string;
    mediaType: string;
    /** Sum of the manifest, config and layer sizes: what the archive will hold. */
    estimatedBytes: number;
}

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);


function clientFor(registry: string, credentials?: Credentials): RegistryClient {
    return new RegistryClient(registry, { auth: credentials?.registry === registry ? credentials : undefined, timeoutMs: 60_000 });
}

/** The content set's references as ImageRefs, with a clear error naming a bad one. */
export function parseContentSets(contentSets: Record<string, string[]>): Array<{ contentSet: string; source: string; image: ImageRef }> {
    const out = [];
    for (const [contentSet, refs] of Object.entries(contentSets)) {
        for (const source of refs) {
            const image = parseRef(source);
            if (!image.digest && !image.tag) image.tag = "latest";
            out.push({ contentSet, source, image });
        }
    }
    return out;
}

/**
 * Looks every image up in its registry: its digest (a tag is resolved), its
 * media type and how many bytes its archive will hold. A registry that does
 * not answer and an image that is not there are errors naming them.
 */
export async function resolveImages(contentSets: Record<string, string[]>, credentials?: Credentials): Promise<ResolvedImage[]> {
    const items = parseContentSets(contentSets);
    const clients = new Map<string, RegistryClient>();
    for (const registry of new Set(items.map((i) => i.image.registry))) {
        const client = clientFor(registry, credentials);
        await client.ping();
        clients.set(registry, client);
    }
    const resolved: ResolvedImage[] = [];
    for (const item of items) {
        const client = clients.get(item.image.registry)!;
        const manifest = await client.getManifest(item.image.repository, item.image.digest ?? item.image.tag!);
        if (!manifest) {
            throw new RegistryError(`image ${item.source} (content set ${item.contentSet}) does not exist in registry ${item.image.registry}`, 404);
        }
        let estimatedBytes = manifest.body.length;
        const children = INDEX_TYPES.has(manifest.mediaType) ? (JSON.parse(manifest.body.toString()).manifests as Array<{ digest: string }>) : [];
        const bodies = [manifest.body];
        for (const child of children) {
            const m = await client.getManifest(item.image.repository, child.digest);
            if (!m) throw new RegistryError(`image ${item.source}: its index names ${child.digest}, which registry ${item.image.registry} does not have`, 404);
            estimatedBytes += m.body.length;
            bodies.push(m.body);
        }
        for (const body of bodies) {
            const m = JSON.parse(body.toString()) as { config?: { size: number }; layers?: Array<{ size: number }> };
            estimatedBytes += (m.config?.size ?? 0) + (m.layers ?? []).reduce((s, l) => s + l.size, 0);
        }
        resolved.push({ ...item, digest: manifest.digest, mediaType: manifest.mediaType, estimatedBytes });
    }
    return resolved;
}

/** registry/repository@digest: the name an image is archived and loaded under. */
export function pinnedRef(image: ImageRef, digest: string): string {
    return formatRef({ registry: image.registry, repository: image.repository, digest });
}

/** Where an image's archive goes on the partition. */
export function archivePath(contentSet: string, image: ImageRef, digest: string): string {
    return `${contentSet}/${image.repository.replace(/\//g, "_")}_${digest.slice("sha256:".length, "sha256:".length + 16)}.tar`;
}

/** The tag to add on load (registry/repository:tag), when the content set named the image by tag. */
export function tagOf(m: ManifestEntry): string | undefined {
    const src = parseRef(m.source);
    return src.tag ? formatRef({ registry: src.registry, repository: src.repository, tag: src.tag }) : undefined;
}

/** Archives every image into `stage`, two at a time, in the order given. */
export async function fetchArchives(images: ResolvedImage[], stage: string, credentials: Credentials | undefined, log: (s: string) => void): Promise<ManifestEntry[]> {
    const seen = new Set<string>();
    const unique = images.filter((img) => {
        const archive = archivePath(img.contentSet, img.image, img.digest);
        if (seen.has(archive)) return false; // the same image twice in one content set
        seen.add(archive);
        return true;
    });
    // Two at a time: skopeo alternates between waiting on the registry and hashing.
    // After a failure no new fetch starts, and both finish before the caller removes the folder.
    const out: ManifestEntry[] = new Array(unique.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
        while (next < unique.length && !failed) {
            const i = next++;
            try {
                out[i] = await fetchArchive(unique[i], stage, credentials, log);
            } catch (e) {
                failed = true;
                throw e;
            }
        }
    };
    const results = await Promise.allSettled([worker(), worker()]);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected) throw rejected.reason;
    return out;
}

async function fetchArchive(img: ResolvedImage, stage: string, credentials: Credentials | undefined, log: (s: string) => void): Promise<ManifestEntry> {
    const archive = archivePath(img.contentSet, img.image, img.digest);
    const file = path.join(stage, archive);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const ref = pinnedRef(img.image, img.digest);
    const auth = credentials?.registry === img.image.registry ? credentials : undefined;
    await withAuthFile(img.image.registry, auth, (authFile) =>
        run(
            "skopeo",
            [
                "copy",
                "--quiet",
                "--retry-times",
                "2",
                ...containerToolFlags(img.image.registry, authFile, "src"),
                // An index is archived whole, so the archive keeps the registry's digest.
                ...(INDEX_TYPES.has(img.mediaType) ? ["--all"] : []),
                `docker://${ref}`,
                `oci-archive:${file}:${ref}`,
            ],
            { timeoutMs: 60 * 60_000, secrets: auth ? [auth.password] : [] },
        ),
    );
    const index = JSON.parse((await run("tar", ["-xOf", file, "index.json"])).stdout) as { manifests?: Array<{ digest: string }> };
    const archived = index.manifests?.[0]?.digest;
    if (archived !== img.digest) throw new Error(`archive of ${img.source} holds ${archived ?? "no manifest"}, but registry ${img.image.registry} has ${img.digest}`);
    const st = await fs.stat(file);
    log(`archived ${ref} → ${archive} (${st.size} bytes)`);
    return {
        contentSet: img.contentSet,
        ref,
        source: img.source,
        digest: img.digest,
        mediaType: img.mediaType,
        archive,
        archiveSha256: await sha256File(file),
        archiveSize: st.size,
    };
}
