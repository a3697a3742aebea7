// Retention that knows the fleet: which of a repository's manifests go. Pure:
// planRetention is a function of the builds this stack made, the repository's
// tags, what protects each digest (any fleet stack's outputs, pins, channel
// targets) and each manifest's blobs. Only builds this stack made are ever
// candidates; a manifest someone else pushed is not ours to delete.

/** A build this stack made (the pipeline's history). */
export interface BuiltManifest {
    digest: string;
    version: string;
    builtAt: string;
}

export interface RetentionInput {
    /** Keep this many of the newest builds still in the registry. */
    keepLast: number;
    builds: BuiltManifest[];
    /** tag → digest, as the registry lists them. */
    tags: Record<string, string>;
    /** Tags that are versions (they do not protect a digest by themselves). */
    versionTags: string[];
    /** digest → who references it ("acme/image-factory/site-b outputs", "pin", …). */
    protectedBy: Record<string, string[]>;
    /** digest → its blobs (config, layers; an index's children's too), for the digests in the registry. */
    blobs: Record<string, Array<{ digest: string; size: number }>>;
}

export interface RetentionDecision {
    digest: string;
    version: string;
    tags: string[];
    /** Why it stays (empty for a removal). */
    keptBecause: string[];
    /** Bytes of blobs only this manifest (and other removed ones) use: what garbage collection frees. */
    bytes: number;
}

export interface RetentionPlan {
    keep: RetentionDecision[];
    remove: RetentionDecision[];
    /** Bytes of blobs no kept manifest uses. */
    bytesFreed: number;
}

export function planRetention(input: RetentionInput): RetentionPlan {
    if (!Number.isInteger(input.keepLast) || input.keepLast < 1) throw new Error(`keepLast must be a whole number ≥ 1, got ${input.keepLast}`);
    const tagsOf = (digest: string) =>
        Object.entries(input.tags)
            .filter(([, d]) => d === digest)
            .map(([t]) => t)
            .sort();
    // Newest first; a digest built twice counts at its latest build.
    const present = new Map<string, BuiltManifest>();
    for (const b of [...input.builds].sort((a, b) => b.builtAt.localeCompare(a.builtAt))) {
        if (input.blobs[b.digest] && !present.has(b.digest)) present.set(b.digest, b);
    }
    const keep: RetentionDecision[] = [];
    const remove: RetentionDecision[] = [];
    [...present.values()].forEach((b, i) => {
        const tags = tagsOf(b.digest);
        const why = [
            ...(i < input.keepLast ? [`one of the last ${input.keepLast} builds`] : []),
            ...(input.protectedBy[b.digest] ?? []),
            ...tags.filter((t) => !input.versionTags.includes(t)).map((t) => `tag ${t}`),
        ];
        (why.length ? keep : remove).push({ digest: b.digest, version: b.version, tags, keptBecause: why, bytes: 0 });
    });
    // A blob is freed only when no kept manifest (nor any manifest not ours) uses it.
    const ours = new Set(present.keys());
    const inUse = new Set<string>();
    for (const [digest, blobs] of Object.entries(input.blobs)) {
        if (!ours.has(digest) || keep.some((k) => k.digest === digest)) for (const b of blobs) inUse.add(b.digest);
    }
    const counted = new Set<string>();
    let bytesFreed = 0;
    for (const r of remove) {
        for (const b of input.blobs[r.digest]) {
            if (inUse.has(b.digest) || counted.has(b.digest)) continue;
            counted.add(b.digest);
            r.bytes += b.size;
            bytesFreed += b.size;
        }
    }
    return { keep, remove, bytesFreed };
}

const DIGEST = /sha256:[a-f0-9]{64}/g;

/** Every digest anywhere in a stack's outputs (refs, disks' manifests, boot sets, rollout channels): what the stack references. */
export function referencedDigests(outputs: unknown): Set<string> {
    const out = new Set<string>();
    const walk = (v: unknown) => {
        if (typeof v === "string") for (const m of v.match(DIGEST) ?? []) out.add(m);
        else if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(outputs);
    return out;
}

/** "1.2 GiB" */
export function formatBytes(n: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
