// The build cache's bookkeeping: what a key depends on, whole entries or none, and
// which entries go first when it is full (the providers tier pushes from it for real).
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildCacheDir, buildCacheKey, cachedBuild, keepBuild, pruneBuildCache } from "../../components/images/build-cache";

const D = `sha256:${"a".repeat(64)}`;
const base = { definitionHash: "sha256:1", version: "1.0.0", parentRef: `127.0.0.1:5000/demo/base@${D}`, source: null };

describe("buildCacheKey", () => {
    it("counts the parent by digest, not by where it was pulled from", () => {
        expect(buildCacheKey({ ...base, parentRef: `registry.site-b.example/site-b/base@${D}` })).toBe(buildCacheKey(base));
    });

    it("differs with the definition, the version, the parent's digest and the root's source", () => {
        const keys = [
            base,
            { ...base, definitionHash: "sha256:2" },
            { ...base, version: "1.0.1" },
            { ...base, parentRef: `127.0.0.1:5000/demo/base@sha256:${"b".repeat(64)}` },
            { ...base, parentRef: null, source: { kind: "image" as const, ref: "quay.io/centos-bootc/centos-bootc:stream9", packageManager: "dnf" as const } },
            { ...base, parentRef: null, source: { kind: "image" as const, ref: "quay.io/centos-bootc/centos-bootc:stream10", packageManager: "dnf" as const } },
        ].map(buildCacheKey);
        expect(new Set(keys).size).toBe(keys.length);
    });
});

describe("keepBuild, cachedBuild, pruneBuildCache", () => {
    let cache: string;
    const entry = (name: string) => ({ name, version: "1.0.0", digest: D, builtAt: "2026-12-02T16:00:00.000Z", packages: null, refreshedAt: null });
    /** A fake layout of `bytes` bytes, on the cache's file system. */
    const layout = async (bytes: number) => {
        const dir = await fs.mkdtemp(path.join(cache, "layout-"));
        await fs.writeFile(path.join(dir, "index.json"), "{}");
        await fs.writeFile(path.join(dir, "blob"), Buffer.alloc(bytes));
        return dir;
    };
    beforeEach(async () => {
        cache = await fs.mkdtemp(path.join(os.tmpdir(), "if-build-cache-"));
    });
    afterEach(() => fs.rm(cache, { recursive: true, force: true }));

    it("keeps a layout with its entry and finds it again; an unknown key is a miss", async () => {
        await keepBuild(cache, "k1", await layout(10), entry("base"));
        const hit = await cachedBuild(cache, "k1");
        expect(hit?.entry).toEqual(entry("base"));
        expect(await fs.readFile(path.join(hit!.layout, "index.json"), "utf8")).toBe("{}");
        expect(await cachedBuild(cache, "k2")).toBeUndefined();
    });

    it("an entry without its layout's index is a miss, never half an image", async () => {
        await keepBuild(cache, "k1", await layout(10), entry("base"));
        await fs.rm(path.join(buildCacheDir(cache), "k1", "layout", "index.json"));
        expect(await cachedBuild(cache, "k1")).toBeUndefined();
    });

    it("a second build of a key replaces the first", async () => {
        await keepBuild(cache, "k1", await layout(10), entry("first"));
        await keepBuild(cache, "k1", await layout(10), entry("second"));
        expect((await cachedBuild(cache, "k1"))?.entry.name).toBe("second");
    });

    it("when full, removes the entries used longest ago, never the one just kept", async () => {
        const big = 1000;
        await keepBuild(cache, "old", await layout(big), entry("old"));
        await keepBuild(cache, "used", await layout(big), entry("used"));
        const past = new Date(Date.now() - 3600_000);
        for (const k of ["old", "used"]) await fs.utimes(path.join(buildCacheDir(cache), k, "build.json"), past, past);
        await fs.utimes(path.join(buildCacheDir(cache), "old", "build.json"), new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
        expect(await cachedBuild(cache, "used")).toBeDefined(); // a hit marks it used now
        await keepBuild(cache, "new", await layout(big), entry("new"), 2.5 * big);
        expect((await fs.readdir(buildCacheDir(cache))).sort()).toEqual(["new", "used"]);
        expect(await pruneBuildCache(cache, 0, "new")).toEqual(["used"]);
        expect(await fs.readdir(buildCacheDir(cache))).toEqual(["new"]);
    });
});
