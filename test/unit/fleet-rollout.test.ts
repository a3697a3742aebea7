// The rollout's components under Pulumi mocks (the hub reads its sites through
// StackReference and points one GroupChannel per group and image; a site follows
// its group and reports back), the site-side helpers, the providers' pure parts
// and the rollout's configuration keys.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageOutput, RolloutOutput } from "../../components/contract";
import { provider as channelProvider } from "../../components/fleet/channel.provider";
import { followedImage, FleetRollout, groupEntry, reportRollout, siteReport } from "../../components/fleet";
import { probeHealth, sinceTimes } from "../../components/fleet/report.provider";
import { UNKNOWN } from "../../components/dynamic";
import { freePort } from "../../components/net";
import { ConfigError, parseSiteConfig } from "../../infra/config";
import { lineageHtml, rolloutHtml } from "../../scripts/report";

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const registered: Array<{ type: string; name: string; inputs: Record<string, any> }> = [];
const T0 = Date.parse("2026-12-01T12:00:00Z");

// What each site stack publishes (the mocks' StackReference outputs).
const siteOutputs: Record<string, Record<string, unknown>> = {
    "o/p/canary-a": {
        schemaVersion: 1,
        images: { web: { digest: D(2), tests: { passed: 1, total: 1 } } },
        rolloutReport: {
            group: "canary",
            images: { web: { digest: D(2), since: new Date(T0 - 3 * 3_600_000).toISOString() } },
            health: { healthy: true, checkedAt: "2026-12-01T09:00:00Z", detail: "GET …: 200 OK" },
        },
    },
    "o/p/wave-a": {
        schemaVersion: 1,
        images: { web: { digest: D(1), tests: { passed: 1, total: 1 } } },
        rolloutReport: { group: "wave-1", images: { web: { digest: D(1), since: "2026-11-01T00:00:00Z" } }, health: null },
    },
    "o/p/new-site": {},
};

beforeAll(() => {
    pulumi.runtime.setMocks(
        {
            newResource(args) {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                if (args.type === "pulumi:pulumi:StackReference") return { id: args.inputs.name, state: { name: args.inputs.name, outputs: siteOutputs[args.inputs.name] ?? {} } };
                if (args.type.endsWith(":SiteRelease"))
                    return { id: "r", state: { ...args.inputs, since: Object.fromEntries(Object.keys(args.inputs.digests).map((k) => [k, "2026-12-01T12:00:00.000Z"])), health: null } };
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
});

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));
const hubImage: ImageOutput = { ref: `hub:5000/hub/web@${D(3)}`, digest: D(3), tags: ["3.0.0", "latest"], version: "3.0.0", parent: null, definitionHash: "sha256:h3", tests: { passed: 1, total: 1 } };

describe("FleetRollout (hub)", () => {
    it("reads every site through StackReference and points each group's channel as planned, with the reason", async () => {
        const rollout = new FleetRollout("rollout", {
            groups: [
                { name: "canary", sites: ["o/p/canary-a"] },
                { name: "wave-1", sites: ["o/p/wave-a"] },
                { name: "rest", sites: ["o/p/new-site"] },
                { name: "last", sites: ["o/p/unknown"] },
            ],
            soakSeconds: 7200,
            health: { tests: true, boot: true, probe: false },
            images: ["web"],
            registry: "hub:5000",
            namespace: "hub",
            released: { web: hubImage },
            builds: {
                web: [
                    { digest: D(1), version: "1.0.0", definitionHash: "sha256:h1" },
                    { digest: D(2), version: "2.0.0", definitionHash: "sha256:h2" },
                    { digest: D(3), version: "3.0.0", definitionHash: "sha256:h3" },
                ],
            },
            now: T0,
            channelTarget: async (_repo, tag) => ({ canary: D(2), "wave-1": D(1) })[tag],
        });
        const out: RolloutOutput = await value(rollout.output);
        await value(pulumi.all(Object.values(rollout.channels).map((c) => c.digest)));
        const refs = registered.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name);
        expect(refs.sort()).toEqual(["o/p/canary-a", "o/p/new-site", "o/p/unknown", "o/p/wave-a"]);
        const byGroup = Object.fromEntries(out.groups.map((g) => [g.name, g.images.web]));
        expect(byGroup.canary).toMatchObject({ digest: D(3), status: "promote", version: "3.0.0", ref: `hub:5000/hub/web@${D(3)}` });
        // The canary ran 2.0.0 healthy for 3 h (soak 2 h): wave-1 gets it.
        expect(byGroup["wave-1"]).toMatchObject({ digest: D(2), status: "promote", version: "2.0.0", definitionHash: "sha256:h2" });
        // wave-1 ran 1.0.0 for a month: rest gets it in the same step (each group takes what the one before it proved).
        expect(byGroup.rest).toMatchObject({ digest: D(1), status: "promote", version: "1.0.0" });
        // rest had nothing: the last group has nothing to be offered yet.
        expect(byGroup.last).toMatchObject({ digest: null, ref: null, version: null, status: "waiting", reason: "rest has no web yet" });

        const channels = registered.filter((r) => r.type.endsWith(":GroupChannel"));
        expect(channels.map((c) => c.name).sort()).toEqual(["canary-web", "last-web", "rest-web", "wave-1-web"]);
        const wave = channels.find((c) => c.name === "wave-1-web")!.inputs;
        expect(wave).toMatchObject({ tag: "wave-1", repository: "hub/web", registry: "hub:5000", digest: D(2), status: "promote" });
        expect(wave.reason).toContain("every site of canary runs");
        expect(channels.find((c) => c.name === "last-web")!.inputs).toMatchObject({ digest: "", status: "waiting" });
    });
});

describe("a site in a rollout group", () => {
    const rollout: RolloutOutput = {
        soakSeconds: 60,
        groups: [
            {
                name: "canary",
                channel: "canary",
                sites: ["o/p/a"],
                images: { web: { ref: `hub:5000/hub/web@${D(3)}`, digest: D(3), version: "3.0.0", definitionHash: "sha256:h3", status: "current", reason: "r" } },
            },
            {
                name: "wave-1",
                channel: "wave-1",
                sites: ["o/p/b"],
                images: { web: { ref: `hub:5000/hub/web@${D(2)}`, digest: D(2), version: "2.0.0", definitionHash: "sha256:h2", status: "waiting", reason: "waiting until …" } },
            },
            { name: "rest", channel: "rest", sites: ["o/p/c"], images: { web: { ref: null, digest: null, version: null, definitionHash: null, status: "waiting", reason: "wave-1 has no web yet" } } },
        ],
    };

    it("mirrors its group's digest, not the hub's latest, with the group's channel tag", () => {
        const e = groupEntry("o/p/hub", rollout, "wave-1", "web");
        const img = followedImage(hubImage, e, "wave-1", `site:5000/b/web@${D(2)}`);
        expect(img).toEqual({ ref: `site:5000/b/web@${D(2)}`, digest: D(2), tags: ["2.0.0", "latest", "wave-1"], version: "2.0.0", parent: null, definitionHash: "sha256:h2" });
        // The hub's latest digest keeps its test results.
        expect(followedImage(hubImage, groupEntry("o/p/hub", rollout, "canary", "web"), "canary", "x").tests).toEqual({ passed: 1, total: 1 });
    });

    it("keeps the signature references: the hub's for its latest digest, the cosign scheme's for an older one", () => {
        const sig = (d: string, k: string) => `hub:5000/hub/web:${d.replace(":", "-")}.${k}`;
        const signed = {
            ...hubImage,
            signature: { ref: sig(D(3), "sig"), digest: D(7) },
            attestations: { ref: sig(D(3), "att"), digest: D(8) },
            sbom: { format: "spdx", predicateType: "https://spdx.dev/Document", packages: 120, sha256: "ab", attestation: sig(D(3), "att") },
        };
        const latest = followedImage(signed, groupEntry("o/p/hub", rollout, "canary", "web"), "canary", `hub:5000/hub/web@${D(3)}`);
        expect(latest).toMatchObject({ signature: signed.signature, attestations: signed.attestations, sbom: signed.sbom });
        const older = followedImage(signed, groupEntry("o/p/hub", rollout, "wave-1", "web"), "wave-1", `hub:5000/hub/web@${D(2)}`);
        expect(older).toMatchObject({ signature: { ref: sig(D(2), "sig"), digest: null }, attestations: { ref: sig(D(2), "att"), digest: null }, sbom: null });
        // An unsigned hub image stays without them.
        expect(followedImage(hubImage, groupEntry("o/p/hub", rollout, "wave-1", "web"), "wave-1", "x")).not.toHaveProperty("signature");
    });

    it("says why it has nothing to follow", () => {
        expect(() => groupEntry("o/p/hub", null, "canary", "web")).toThrow("image-factory:hub.group: o/p/hub publishes no rollout");
        expect(() => groupEntry("o/p/hub", rollout, "wave-2", "web")).toThrow('o/p/hub has no rollout group "wave-2" (it has: canary, wave-1, rest)');
        expect(() => groupEntry("o/p/hub", rollout, "canary", "db")).toThrow('rollout group canary has no image "db" (it has: web)');
        expect(() => groupEntry("o/p/hub", rollout, "rest", "web")).toThrow("o/p/hub's channel rest has no web yet (waiting: wave-1 has no web yet)");
    });

    it("reports its digests and health through a SiteRelease", async () => {
        const report = await value(reportRollout("rollout-report", { group: "canary", images: { web: hubImage }, probe: "http://127.0.0.1:8080/healthz" }));
        const r = registered.find((x) => x.type.endsWith(":SiteRelease"))!;
        expect(r.inputs).toMatchObject({ group: "canary", digests: { web: D(3) }, probe: "http://127.0.0.1:8080/healthz" });
        expect(report).toEqual({ group: "canary", images: { web: { digest: D(3), since: "2026-12-01T12:00:00.000Z" } }, health: null });
    });

    it("is read by the hub from its outputs; a stack without outputs reports nothing; a newer contract is refused", () => {
        expect(siteReport("o/p/new-site", {})).toBeUndefined();
        const r = siteReport("o/p/canary-a", siteOutputs["o/p/canary-a"])!;
        expect(r.group).toBe("canary");
        expect(r.images.web).toMatchObject({ digest: D(2), since: new Date(T0 - 3 * 3_600_000).toISOString() });
        // A since for another digest than the one released does not count.
        expect(siteReport("x", { ...siteOutputs["o/p/canary-a"], images: { web: { digest: D(9) } } })!.images.web.since).toBeUndefined();
        expect(() => siteReport("o/p/x", { schemaVersion: 2 })).toThrow("o/p/x publishes outputs schemaVersion 2; this hub reads 1");
    });
});

describe("the providers' pure parts", () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
        server = createServer((req, res) => {
            res.statusCode = req.url === "/ok" ? 200 : 503;
            res.end(req.url === "/ok" ? "ready" : "database down");
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("probes health over HTTP: 2xx is healthy; the status and body say why not", async () => {
        expect(await probeHealth(`${base}/ok`)).toMatchObject({ healthy: true, detail: `GET ${base}/ok: 200 OK — ready` });
        expect(await probeHealth(`${base}/bad`)).toMatchObject({ healthy: false, detail: `GET ${base}/bad: 503 Service Unavailable — database down` });
        const port = await freePort();
        expect(await probeHealth(`http://127.0.0.1:${port}/healthz`)).toMatchObject({ healthy: false, detail: `GET http://127.0.0.1:${port}/healthz: ECONNREFUSED` });
    });

    it("keeps the release time of an unchanged digest and stamps a changed one", () => {
        const now = new Date("2026-12-01T12:00:00Z");
        const old = { digests: { a: D(1), b: D(1) }, since: { a: "2026-11-01T00:00:00.000Z", b: "2026-11-02T00:00:00.000Z" } };
        expect(sinceTimes({ a: D(1), b: D(2), c: D(3) }, old, now)).toEqual({ a: "2026-11-01T00:00:00.000Z", b: now.toISOString(), c: now.toISOString() });
    });

    it("checks a channel: a digest or nothing, never the tag latest; a move shows as a change", async () => {
        const good = { image: "web", group: "canary", registry: "r:5000", repository: "hub/web", tag: "canary", digest: D(1), status: "promote", reason: "r" };
        expect((await channelProvider.check({}, good)).failures).toEqual([]);
        expect((await channelProvider.check({}, { ...good, digest: "" })).failures).toEqual([]);
        expect((await channelProvider.check({}, { ...good, digest: UNKNOWN })).failures).toEqual([]);
        expect((await channelProvider.check({}, { ...good, digest: "latest", tag: "latest" })).failures?.map((f) => f.property)).toEqual(["digest", "tag"]);
        expect(await channelProvider.diff("id", good, { ...good, digest: D(2) })).toMatchObject({ changes: true, replaces: [] });
        expect(await channelProvider.diff("id", good, { ...good, reason: "halted: …" })).toMatchObject({ changes: true, replaces: [] });
        expect(await channelProvider.diff("id", good, good)).toMatchObject({ changes: false });
        expect((await channelProvider.diff("id", good, { ...good, tag: "wave-1" })).replaces).toEqual(["tag"]);
    });
});

describe("rollout configuration", () => {
    const base = { site: { name: "hub", role: "local" }, registry: { url: "127.0.0.1:5000" } };
    const groups = [
        { name: "canary", sites: ["o/p/a"] },
        { name: "wave-1", sites: ["o/p/b", "o/p/c"] },
    ];
    const problems = (values: Record<string, unknown>): string[] => {
        try {
            parseSiteConfig({ values, secrets: {} });
            return [];
        } catch (e) {
            if (e instanceof ConfigError) return e.problems;
            throw e;
        }
    };

    it("applies defaults", () => {
        const c = parseSiteConfig({ values: { ...base, rollout: { groups } }, secrets: {} });
        expect(c.rollout).toEqual({ soakSeconds: 3600, health: { tests: true, boot: true, probe: false }, groups: groups.map((g) => ({ ...g, pins: {} })) });
        expect(parseSiteConfig({ values: { ...base, rollout: { groups, soak: "2d" } }, secrets: {} }).rollout!.soakSeconds).toBe(172_800);
        const site = parseSiteConfig({ values: { ...base, hub: { stack: "o/p/hub", group: "canary", healthProbe: "http://127.0.0.1:8080/healthz" } }, secrets: {} });
        expect(site.hub).toMatchObject({ group: "canary", healthProbe: "http://127.0.0.1:8080/healthz" });
    });

    it.each([
        ["no groups", { rollout: { groups: [] } }, "image-factory:rollout.groups: must be a list of at least one group, in rollout order"],
        ["a soak that is not a duration", { rollout: { groups, soak: "2 hours" } }, "image-factory:rollout.soak: must be a duration such as 30m, 2h or 1d"],
        ["a group that is not a DNS label", { rollout: { groups: [{ name: "Wave 1", sites: ["o/p/a"] }] } }, "image-factory:rollout.groups[0].name: must be a group name"],
        ["a group named latest", { rollout: { groups: [{ name: "latest", sites: ["o/p/a"] }] } }, 'image-factory:rollout.groups[0].name: "latest" is always moved'],
        ["two groups of one name", { rollout: { groups: [groups[0], { ...groups[1], name: "canary" }] } }, 'image-factory:rollout.groups[1].name: "canary" names two groups'],
        ["a site in two groups", { rollout: { groups: [groups[0], { name: "wave-1", sites: ["o/p/a"] }] } }, "image-factory:rollout.groups[1].sites: o/p/a is already in group canary"],
        ["a group without sites", { rollout: { groups: [{ name: "canary", sites: [] }] } }, "image-factory:rollout.groups[0].sites: must be a list naming at least one site stack"],
        ["a site that is not a stack", { rollout: { groups: [{ name: "canary", sites: ["site-a"] }] } }, 'image-factory:rollout.groups[0].sites[0]: must be organization/project/stack, got "site-a"'],
        ["a pin that is not a digest", { rollout: { groups: [{ ...groups[0], pins: { web: "1.0.0" } }] } }, 'image-factory:rollout.groups[0].pins.web: must be a sha256 digest, got "1.0.0"'],
        ["an unknown health key", { rollout: { groups, health: { probes: true } } }, "image-factory:rollout.health.probes: unknown key"],
        ["rollout with a channel", { rollout: { groups }, images: { channel: "stable" } }, "image-factory:images.channel: a hub with rollout.groups moves one channel per group"],
        ["rollout on a mirroring site", { rollout: { groups }, hub: { stack: "o/p/hub" } }, "image-factory:rollout: is the hub's"],
        ["a probe without a group", { hub: { stack: "o/p/hub", healthProbe: "https://x.example/healthz" } }, "image-factory:hub.healthProbe: is reported to the hub with hub.group"],
        ["a plain-http probe off loopback", { hub: { stack: "o/p/hub", group: "canary", healthProbe: "http://10.0.0.5/healthz" } }, "image-factory:hub.healthProbe: plain http is only for loopback"],
    ])("reports %s, naming the key", (_what, values, expected) => {
        expect(problems({ ...base, ...values }).join("\n")).toContain(expected);
    });
});

describe("the lineage report's rollout section", () => {
    it("shows each group's channel per image with its verdict and why, and a site's group and health, escaped", () => {
        const html = rolloutHtml({
            images: {},
            rollout: {
                soakSeconds: 7200,
                groups: [
                    {
                        name: "canary",
                        channel: "canary",
                        sites: ["o/p/a"],
                        images: { web: { ref: `hub/web@${D(2)}`, digest: D(2), version: "2.0.0", definitionHash: null, status: "current", reason: "the hub's latest tested release 2.0.0" } },
                    },
                    {
                        name: "wave-1",
                        channel: "wave-1",
                        sites: ["o/p/b"],
                        images: { web: { ref: null, digest: null, version: null, definitionHash: null, status: "halted", reason: "halted: o/p/a is unhealthy on <x>" } },
                    },
                ],
            },
            rolloutReport: {
                group: "canary",
                images: { web: { digest: D(2), since: "2026-12-01T00:00:00.000Z" } },
                health: { healthy: false, checkedAt: "2026-12-01T01:00:00Z", detail: "GET …: 503" },
            },
        });
        expect(html).toContain(
            `<tr><td>1. canary</td><td>o/p/a</td><td>web</td><td><code title="hub/web@${D(2)}">${"2".repeat(12)}</code> 2.0.0</td><td>current</td><td>the hub's latest tested release 2.0.0</td></tr>`,
        );
        expect(html).toContain("<tr><td>2. wave-1</td><td>o/p/b</td><td>web</td><td>—</td><td>halted</td><td>halted: o/p/a is unhealthy on &lt;x&gt;</td></tr>");
        expect(html).toContain("Health: UNHEALTHY at 2026-12-01T01:00:00Z: GET …: 503");
        expect(rolloutHtml({ images: {} })).toBe("");
        expect(lineageHtml("hub", { images: {}, rollout: { soakSeconds: 60, groups: [] } })).toContain("<h2>Rollout waves</h2><p>Soak 60s");
    });
});
