// Retention against a real registry (docker-registry on loopback): the plan from
// what the registry holds, then RegistryRetention deletes an unreferenced old
// build, keeps the one a lagging site references and the channels' targets, and
// rechecks every removal at run time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planRetention } from "../../components/fleet";
import { readRepository } from "../../components/fleet/retain";
import { provider, type RegistryRetentionInputs, type RegistryRetentionOutputs } from "../../components/fleet/retention.provider";
import { RegistryClient, sha256Digest } from "../../components/registry/client";
import { testRegistry } from "../support/registry";

type Reg = Awaited<ReturnType<typeof testRegistry>>;
const REPO = "hub/web";
const MT = "application/vnd.oci.image.manifest.v1+json";

/** Pushes a build: a shared base layer and a layer of its own of `size` bytes; tags it with its version. */
async function pushBuild(client: RegistryClient, version: string, size: number): Promise<{ digest: string; own: number }> {
    const base = Buffer.alloc(4096, 1);
    const own = Buffer.alloc(size, version.charCodeAt(0));
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", version }));
    for (const b of [base, own, config]) await client.putBlob(REPO, sha256Digest(b), b);
    const layer = (b: Buffer) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256Digest(b), size: b.length });
    const body = Buffer.from(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: MT,
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256Digest(config), size: config.length },
            layers: [layer(base), layer(own)],
        }),
    );
    const digest = await client.putManifest(REPO, version, { body, mediaType: MT });
    return { digest, own: own.length + config.length };
}

describe("RegistryRetention against a real registry", () => {
    let reg: Reg;
    let client: RegistryClient;
    const b: Record<string, { digest: string; own: number }> = {};
    beforeAll(async () => {
        reg = await testRegistry();
        client = new RegistryClient(reg.address);
        for (const [i, v] of ["1.0.0", "2.0.0", "3.0.0", "4.0.0"].entries()) b[v] = await pushBuild(client, v, 10_000 * (i + 1));
        await client.tag(REPO, b["4.0.0"].digest, "latest");
        await client.tag(REPO, b["3.0.0"].digest, "canary");
    });
    afterAll(async () => reg?.stop());

    it("deletes the unreferenced old build, keeps the lagging site's, the channel's and the newest; reports the bytes", async () => {
        const builds = Object.entries(b).map(([version, x], i) => ({ digest: x.digest, version, builtAt: `2026-11-0${i + 1}T00:00:00Z` }));
        const { tags, blobs } = await readRepository(
            client,
            REPO,
            builds.map((x) => x.digest),
        );
        expect(tags).toMatchObject({ latest: b["4.0.0"].digest, canary: b["3.0.0"].digest });
        const versionTags = Object.keys(b);
        // A lagging site still runs 1.0.0: its outputs reference that digest.
        const protectedBy = { [b["1.0.0"].digest]: ["acme/image-factory/site-c's outputs reference it"] };
        const plan = planRetention({ keepLast: 1, builds, tags, versionTags, protectedBy, blobs });
        expect(plan.remove.map((r) => r.version)).toEqual(["2.0.0"]);
        expect(plan.bytesFreed).toBe(b["2.0.0"].own);

        const inputs: RegistryRetentionInputs = { registry: reg.address, repository: REPO, remove: plan.remove, protected: Object.keys(protectedBy), versionTags };
        // Preview runs only diff: it lists the removal and deletes nothing.
        expect(await provider.diff("id", { ...inputs, remove: [] }, inputs)).toMatchObject({ changes: true });
        expect(await client.resolve(REPO, b["2.0.0"].digest)).toBe(b["2.0.0"].digest);

        const { outs } = (await provider.create(inputs)) as { outs: RegistryRetentionOutputs };
        expect(outs.deleted.map((r) => r.version)).toEqual(["2.0.0"]);
        expect(outs.bytesFreed).toBe(b["2.0.0"].own);
        expect(await client.resolve(REPO, b["2.0.0"].digest)).toBeUndefined();
        expect(await client.listTags(REPO)).toEqual(["1.0.0", "3.0.0", "4.0.0", "canary", "latest"]);
        for (const v of ["1.0.0", "3.0.0", "4.0.0"]) expect(await client.resolve(REPO, b[v].digest)).toBe(b[v].digest);
        // The shared base layer is still there for the kept builds.
        expect(await client.hasBlob(REPO, sha256Digest(Buffer.alloc(4096, 1)))).toBe(true);
    });

    it("rechecks at run time: keeps a planned removal that a stack now references or a channel now points at", async () => {
        const stale = (v: string) => ({ digest: b[v].digest, version: v, tags: [v], bytes: 1 });
        // Planned before: 1.0.0 (now referenced) and 3.0.0 (now the target of a moved hotfix tag).
        await client.tag(REPO, b["3.0.0"].digest, "hotfix");
        const { outs } = (await provider.update!(
            "id",
            {},
            { registry: reg.address, repository: REPO, remove: [stale("1.0.0"), stale("3.0.0"), stale("2.0.0")], protected: [b["1.0.0"].digest], versionTags: Object.keys(b) },
        )) as {
            outs: RegistryRetentionOutputs;
        };
        expect(outs.deleted).toEqual([]);
        expect(outs.skipped).toEqual([
            { digest: b["1.0.0"].digest, why: "a fleet stack, pin or channel references it" },
            { digest: b["3.0.0"].digest, why: "tag canary, hotfix points at it now" },
            { digest: b["2.0.0"].digest, why: "already gone" },
        ]);
        expect(await client.resolve(REPO, b["1.0.0"].digest)).toBe(b["1.0.0"].digest);
        expect(await client.resolve(REPO, b["3.0.0"].digest)).toBe(b["3.0.0"].digest);
    });
});
