// Retention as a pure function: keep the last N builds, anything a fleet stack's
// outputs reference, pins and channel targets; free only blobs nothing kept uses.
import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { FleetRetention, formatBytes, planRetention, referencedDigests } from "../../components/fleet";
import type { RetentionInput } from "../../components/fleet/retention";
import { ConfigError, parseSiteConfig } from "../../infra/config";

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const B = (n: number) =>
    `sha256:${`b${n}`
        .repeat(32)
        .slice(0, 64)
        .replace(/[^a-f0-9]/g, "0")}`;
const builds = [1, 2, 3, 4, 5].map((n) => ({ digest: D(n), version: `${n}.0.0`, builtAt: `2026-11-0${n}T00:00:00Z` }));
// Each build has its own layer (100 × n bytes) and shares a base layer.
const blobs = Object.fromEntries(
    builds.map((b, i) => [
        b.digest,
        [
            { digest: B(0), size: 1000 },
            { digest: B(i + 1), size: 100 * (i + 1) },
        ],
    ]),
);

function input(over: Partial<RetentionInput> = {}): RetentionInput {
    return {
        keepLast: 2,
        builds,
        tags: { "5.0.0": D(5), "4.0.0": D(4), "3.0.0": D(3), "2.0.0": D(2), "1.0.0": D(1), latest: D(5) },
        versionTags: builds.map((b) => b.version),
        protectedBy: {},
        blobs,
        ...over,
    };
}
const digests = (xs: Array<{ digest: string }>) => xs.map((x) => x.digest);

describe("the retention plan", () => {
    it("keeps the last N builds and removes the older ones, counting only blobs nothing kept uses", () => {
        const p = planRetention(input());
        expect(digests(p.keep)).toEqual([D(5), D(4)]);
        expect(digests(p.remove)).toEqual([D(3), D(2), D(1)]);
        expect(p.remove.map((r) => r.bytes)).toEqual([300, 200, 100]);
        expect(p.bytesFreed).toBe(600);
        expect(p.remove[0]).toMatchObject({ version: "3.0.0", tags: ["3.0.0"], keptBecause: [] });
    });

    it("keeps a digest any fleet stack's outputs reference (a lagging site), a pin's and a channel's target", () => {
        const p = planRetention(
            input({
                tags: { ...input().tags, canary: D(4), "wave-1": D(2) },
                protectedBy: { [D(1)]: ["acme/image-factory/site-c's outputs reference it"] },
            }),
        );
        expect(digests(p.remove)).toEqual([D(3)]);
        expect(p.keep.find((k) => k.digest === D(1))!.keptBecause).toEqual(["acme/image-factory/site-c's outputs reference it"]);
        expect(p.keep.find((k) => k.digest === D(2))!.keptBecause).toEqual(["tag wave-1"]);
        expect(p.keep.find((k) => k.digest === D(5))!.keptBecause).toEqual(["one of the last 2 builds", "tag latest"]);
    });

    it("never touches a manifest this stack did not build, nor one already gone; its blobs stay counted as in use", () => {
        const foreign = D(9);
        const p = planRetention(
            input({
                tags: { ...input().tags, other: foreign },
                blobs: { ...blobs, [foreign]: [{ digest: B(1), size: 100 }] },
                builds: builds.filter((b) => b.digest !== D(2)).concat([{ digest: D(8), version: "8", builtAt: "2026-11-09T00:00:00Z" }]),
            }),
        );
        expect(digests(p.remove)).toEqual([D(3), D(1)]);
        expect(p.remove.find((r) => r.digest === D(1))!.bytes).toBe(0);
        expect([...p.keep, ...p.remove].some((x) => x.digest === foreign || x.digest === D(8))).toBe(false);
    });

    it("counts a digest built twice once, at its newest build", () => {
        const p = planRetention(input({ builds: [...builds, { digest: D(1), version: "1.0.0", builtAt: "2026-11-30T00:00:00Z" }] }));
        expect(digests(p.keep)).toEqual([D(1), D(5)]);
    });

    it("refuses keepLast below 1", () => {
        expect(() => planRetention(input({ keepLast: 0 }))).toThrow("keepLast must be a whole number ≥ 1, got 0");
    });

    it("finds every digest a stack's outputs mention, however deep", () => {
        const outputs = { images: { web: { ref: `r/x@${D(1)}`, digest: D(1) } }, disks: { d: { manifest: [{ digest: D(2) }] } }, bootArtifacts: { web: { prefix: `web/${D(3)}/` } }, n: 3, s: null };
        expect([...referencedDigests(outputs)].sort()).toEqual([D(1), D(2), D(3)]);
    });

    it("formats bytes", () => {
        expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 ** 3)]).toEqual(["512 B", "1.5 KiB", "3.0 GiB"]);
    });
});

describe("retention configuration", () => {
    const base = { site: { name: "hub", role: "local" }, registry: { url: "127.0.0.1:5000" } };
    const problems = (values: Record<string, unknown>): string[] => {
        try {
            parseSiteConfig({ values: { ...base, ...values }, secrets: {} });
            return [];
        } catch (e) {
            if (e instanceof ConfigError) return e.problems;
            throw e;
        }
    };

    it("applies defaults", () => {
        expect(parseSiteConfig({ values: { ...base, retention: {} }, secrets: {} }).retention).toEqual({ keepLast: 10, repositories: {}, stacks: [] });
        expect(parseSiteConfig({ values: { ...base, retention: { keepLast: 3, repositories: { web: { keepLast: 1 } }, stacks: ["o/p/lab"] } }, secrets: {} }).retention).toEqual({
            keepLast: 3,
            repositories: { web: { keepLast: 1 } },
            stacks: ["o/p/lab"],
        });
    });

    it.each([
        ["keepLast 0", { retention: { keepLast: 0 } }, "image-factory:retention.keepLast: must be a whole number from 1 to 1000, got 0"],
        ["a repository that is not an image name", { retention: { repositories: { Web: { keepLast: 1 } } } }, "image-factory:retention.repositories"],
        ["a stack that is not org/project/stack", { retention: { stacks: ["lab"] } }, 'image-factory:retention.stacks[0]: must be organization/project/stack, got "lab"'],
        ["retention on a mirroring site", { retention: {}, hub: { stack: "o/p/hub" } }, "image-factory:retention: is for a stack that builds"],
    ])("reports %s, naming the key", (_what, values, expected) => {
        expect(problems(values).join("\n")).toContain(expected);
    });
});

describe("FleetRetention under Pulumi mocks", () => {
    it("protects what a lagging site's outputs (read through StackReference) and this stack's own outputs mention", async () => {
        const registered: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];
        await pulumi.runtime.setMocks(
            {
                newResource(args) {
                    registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                    if (args.type === "pulumi:pulumi:StackReference") {
                        const outputs = args.inputs.name === "o/p/lagging" ? { schemaVersion: 1, images: { web: { ref: `site/web@${D(1)}`, digest: D(1) } } } : {};
                        return { id: args.inputs.name, state: { name: args.inputs.name, outputs } };
                    }
                    return { id: `${args.name}-id`, state: args.inputs };
                },
                call(args) {
                    throw new Error(`unexpected call to ${args.token}`);
                },
            },
            "image-factory",
            "unit",
            false,
        );
        const r = new FleetRetention("retention", {
            registry: "hub:5000",
            namespace: "hub",
            keepLast: { web: 1 },
            builds: { web: builds },
            stacks: ["o/p/lagging", "o/p/not-deployed"],
            own: { images: { web: { digest: D(5) } }, rollout: { groups: [{ images: { web: { digest: D(4) } } }] } },
            read: async () => ({ tags: Object.fromEntries(builds.map((b) => [b.version, b.digest])), blobs }),
        });
        const plan = await new Promise<any>((res) => r.plans.web.apply(res));
        await new Promise((res) => r.resources.web.urn.apply(res));
        expect(plan.remove.map((x: { digest: string }) => x.digest)).toEqual([D(3), D(2)]);
        expect(plan.keep.find((k: { digest: string }) => k.digest === D(1)).keptBecause).toEqual(["o/p/lagging's outputs reference it"]);
        expect(plan.keep.find((k: { digest: string }) => k.digest === D(4)).keptBecause).toEqual(["this stack's outputs reference it"]);
        const res = registered.find((x) => x.type.endsWith(":RegistryRetention"))!;
        expect(res.inputs).toMatchObject({ registry: "hub:5000", repository: "hub/web", protected: expect.arrayContaining([D(1), D(4), D(5)]) });
        expect(res.inputs.remove.map((x: { version: string; bytes: number }) => [x.version, x.bytes])).toEqual([
            ["3.0.0", 300],
            ["2.0.0", 200],
        ]);
    });
});
