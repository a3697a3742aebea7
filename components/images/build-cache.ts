// The build cache: each image the factory builds is kept on the build host as an
// OCI layout (compressed, as pushed), keyed by what the build consumed — the
// definition hash, the version, the parent's digest and the root's source. A
// later build of the same key, for any stack and any registry on this machine
// (a hub and its sites, a stack destroyed and made again, the tests), pushes the
// kept image instead of building it again, so the same definition on the same
// parent has one digest on this machine. A refresh (fresh packages) never reads
// the cache; it replaces the entry when its build is pushed.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { sha256Hex } from "../hash";
import { sweepKilled } from "../temp-dir";
import type { Source } from "./catalog";
import { canonicalJson } from "./definition";

/** What the cache keeps beside an image's layout. */
export interface CachedBuild {
    name: string;
    version: string;
    digest: string;
    /** When it was built (ISO 8601). */
    builtAt: string;
    /** A root image's installed packages (name=version), when its build listed them. */
    packages: string[] | null;
    /** When a root's packages were fetched (ISO 8601), when its build recorded it. */
    refreshedAt: string | null;
}

/** Above this many bytes, the entries used longest ago are removed. */
export const BUILD_CACHE_MAX_BYTES = 10 * 1024 ** 3;

const ENTRY = "build.json";
const LAYOUT = "layout";

export function buildCacheDir(cacheDir: string): string {
    return path.join(cacheDir, "builds");
}

/**
 * The key of a build: everything it consumed. The parent counts by digest only (the
 * same image mirrored to another registry is the same parent); a source image by its
 * reference, as the build pulls it (a refresh pulls it again and bypasses the cache).
 */
export function buildCacheKey(b: { definitionHash: string; version: string; parentRef: string | null; source: Source | null }): string {
    return sha256Hex(
        canonicalJson({
            cache: 1,
            definitionHash: b.definitionHash,
            version: b.version,
            parent: b.parentRef ? b.parentRef.slice(b.parentRef.indexOf("@") + 1) : null,
            source: b.source,
        }),
    );
}

/** The kept build of `key`, marked as just used; undefined when there is none (or it is incomplete). */
export async function cachedBuild(cacheDir: string, key: string): Promise<{ layout: string; entry: CachedBuild } | undefined> {
    const dir = path.join(buildCacheDir(cacheDir), key);
    let entry: CachedBuild;
    try {
        entry = JSON.parse(await fs.readFile(path.join(dir, ENTRY), "utf8")) as CachedBuild;
        await fs.access(path.join(dir, LAYOUT, "index.json"));
    } catch {
        return undefined;
    }
    const now = new Date();
    await fs.utimes(path.join(dir, ENTRY), now, now).catch(() => undefined);
    return { layout: path.join(dir, LAYOUT), entry };
}

/**
 * Keeps the layout in `layoutDir` (moved, so it must be on the cache's file system)
 * as the build of `key`, replacing an earlier one; then removes the entries used
 * longest ago while the cache holds more than `maxBytes`.
 */
export async function keepBuild(cacheDir: string, key: string, layoutDir: string, entry: CachedBuild, maxBytes = BUILD_CACHE_MAX_BYTES): Promise<void> {
    const root = buildCacheDir(cacheDir);
    await fs.mkdir(root, { recursive: true });
    // Written aside and renamed into place, so a reader sees a whole entry or none.
    await sweepKilled(root, ".new-");
    const staging = await fs.mkdtemp(path.join(root, `.new-+${process.pid}-`));
    try {
        await fs.rename(layoutDir, path.join(staging, LAYOUT));
        await fs.writeFile(path.join(staging, ENTRY), `${JSON.stringify(entry, null, 2)}\n`);
        const dir = path.join(root, key);
        await fs.rm(dir, { recursive: true, force: true });
        await fs.rename(staging, dir).catch(async (e: NodeJS.ErrnoException) => {
            // Another process kept the same build meanwhile: theirs is as good as ours.
            if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
        });
    } finally {
        await fs.rm(staging, { recursive: true, force: true });
    }
    await pruneBuildCache(cacheDir, maxBytes, key);
}

/** Removes whole entries, used longest ago first, until the cache holds at most `maxBytes`; never `keep`. */
export async function pruneBuildCache(cacheDir: string, maxBytes: number, keep?: string): Promise<string[]> {
    const root = buildCacheDir(cacheDir);
    const entries: Array<{ key: string; used: number; bytes: number }> = [];
    for (const key of await fs.readdir(root).catch(() => [] as string[])) {
        if (key.startsWith(".")) continue;
        const used = await fs.stat(path.join(root, key, ENTRY)).then(
            (s) => s.mtimeMs,
            () => 0,
        );
        entries.push({ key, used, bytes: await folderBytes(path.join(root, key)) });
    }
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    const removed: string[] = [];
    for (const e of entries.sort((a, b) => a.used - b.used)) {
        if (total <= maxBytes) break;
        if (e.key === keep) continue;
        await fs.rm(path.join(root, e.key), { recursive: true, force: true });
        total -= e.bytes;
        removed.push(e.key);
    }
    return removed;
}

async function folderBytes(dir: string): Promise<number> {
    let sum = 0;
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = path.join(dir, e.name);
        sum += e.isDirectory() ? await folderBytes(p) : (await fs.stat(p).catch(() => ({ size: 0 }))).size;
    }
    return sum;
}
