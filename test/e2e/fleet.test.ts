// Fleet lifecycle on the real engine: a hub and three sites on one file backend,
// each with its own loopback registry. The hub builds base and httpd and moves one
// channel per rollout group (canary → wave-1 → wave-2, a short soak); each site
// mirrors its group's channel and reports since when it runs each digest and its
// health probe — a tiny HTTP server this test runs, so it can turn a site unhealthy.
// Shown in order: a first release and then a catalog change travel wave by wave; an
// unhealthy canary halts the rollout; a base refresh with the same packages moves
// nothing and one with a changed package rebuilds the tree; retention deletes an
// unreferenced old build and keeps the one a lagging site runs; `npm run preview --
// --all` summarises the four stacks. Every up's wall time is printed.
import { promises as fs } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "../../components/exec";
import { REFRESH_BASES_ENV } from "../../components/images";
import { RegistryClient } from "../../components/registry/client";
import { testRegistry } from "../support/registry";
import { TestStack } from "./harness";

const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", ".pulumi.version", "infra", "components", "images", "policy", "scripts"];
const IMAGES = ["base", "httpd"];
/** Long enough that a hub up right after a site's up still falls inside it; short enough to wait out. */
const SOAK_SECONDS = 40;
const GROUPS = [
    { name: "canary", site: "site-a" },
    { name: "wave-1", site: "site-b" },
    { name: "wave-2", site: "site-c" },
] as const;
type Group = (typeof GROUPS)[number]["name"];
const fqn = (stack: string) => `organization/image-factory/${stack}`;
const short = (d: string) => d.replace(/^sha256:/, "").slice(0, 12);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface ChannelEntry {
    digest: string | null;
    status: string;
    reason: string;
    waitUntil?: string;
}

describe("fleet lifecycle: waves, halt, base refresh, retention, fleet preview", () => {
    type Reg = Awaited<ReturnType<typeof testRegistry>>;
    let hubReg: Reg;
    const siteRegs: Record<string, Reg> = {};
    let hub: TestStack;
    const sites: Record<string, TestStack> = {};
    let hubClient: RegistryClient;
    /** site → the status its health probe answers. */
    const health: Record<string, number> = { "site-a": 200, "site-b": 200, "site-c": 200 };
    let server: http.Server;
    let probeBase: string;
    /** httpd's builds on the hub, in order: the first release and each change. */
    const httpd: string[] = [];
    const timings: string[] = [];
    const started = Date.now();

    const set = (s: TestStack, key: string, value: string) => s.pulumi(["config", "set", "--path", `image-factory:${key}`, value]);
    /** Runs an up and prints its wall time. */
    const up = async (s: TestStack, what: string, extra: string[] = [], env?: Record<string, string>): Promise<RunResult> => {
        const t = Date.now();
        const r = await s.up(extra, env);
        const line = `up ${s.stack} (${what}): ${((Date.now() - t) / 1000).toFixed(1)}s`;
        timings.push(line);
        console.log(`  ${line}`);
        return r;
    };
    const site = (group: Group) => sites[GROUPS.find((g) => g.name === group)!.site];
    const channel = async (group: Group, image = "httpd"): Promise<ChannelEntry> => {
        const { rollout } = await hub.outputs();
        return rollout.groups.find((g: { name: string }) => g.name === group).images[image];
    };
    /** Where the group's channel tag points in the hub's registry. */
    const tagOf = (group: Group, image = "httpd") => hubClient.resolve(`hub/${image}`, group);
    const siteDigest = async (group: Group, image = "httpd"): Promise<string> => (await site(group).outputs()).images[image].digest;
    const hubDigest = async (image = "httpd"): Promise<string> => (await hub.outputs()).images[image].digest;
    /** Waits until the soak that started when the group's site released httpd has passed. */
    const waitOutSoak = async (group: Group) => {
        const since = (await site(group).outputs()).rolloutReport.images.httpd.since as string;
        await sleep(Date.parse(since) + SOAK_SECONDS * 1000 + 1000 - Date.now());
    };
    const editHttpdPage = async (text: string) => {
        const file = path.join(hub.dir, "images/httpd.yaml");
        const before = await fs.readFile(file, "utf8");
        const after = before.replace(/<p>It works\.[^<]*<\/p>/, `<p>It works. ${text}</p>`);
        expect(after).not.toBe(before);
        await fs.writeFile(file, after);
    };

    beforeAll(async () => {
        [hubReg, siteRegs["site-a"], siteRegs["site-b"], siteRegs["site-c"]] = await Promise.all([testRegistry(), testRegistry(), testRegistry(), testRegistry()]);
        hubClient = new RegistryClient(hubReg.address);
        server = http.createServer((req, res) => {
            const code = health[path.basename(req.url ?? "")] ?? 404;
            res.writeHead(code, { "content-type": "text/plain" });
            res.end(code === 200 ? "ok" : "the test made this site unhealthy");
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        probeBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;

        hub = await TestStack.create({ files: PROJECT_FILES, stack: "hub" });
        for (const g of GROUPS) sites[g.site] = await TestStack.create({ files: PROJECT_FILES, stack: g.site, backendDir: hub.backendDir });
        for (const [k, v] of [
            ["site.name", "hub"],
            ["site.role", "local"],
            ["registry.url", hubReg.address],
            ["registry.namespace", "hub"],
            ["images.select[0]", "httpd"],
            ["rollout.soak", `${SOAK_SECONDS}s`],
        ])
            await set(hub, k, v);
        // The rollout is what this test is about; the boot gate has its own (boot.test.ts).
        await set(hub, "boot.enabled", "false");
        for (const [i, g] of GROUPS.entries()) {
            await set(hub, `rollout.groups[${i}].name`, g.name);
            await set(hub, `rollout.groups[${i}].sites[0]`, fqn(g.site));
            const s = sites[g.site];
            for (const [k, v] of [
                ["site.name", g.site],
                ["site.role", "local"],
                ["registry.url", siteRegs[g.site].address],
                ["registry.namespace", g.site],
                ["hub.stack", fqn("hub")],
                ["hub.group", g.name],
                ["hub.healthProbe", `${probeBase}/${g.site}`],
            ])
                await set(s, k, v);
            for (const [j, image] of IMAGES.entries()) await set(s, `images.select[${j}]`, image);
        }
    });
    afterAll(async () => {
        for (const g of [...GROUPS].reverse()) await sites[g.site]?.destroy().catch((e: Error) => console.log(`  destroy ${g.site}: ${e.message.slice(-400)}`));
        await hub?.destroy().catch((e: Error) => console.log(`  destroy hub: ${e.message.slice(-400)}`));
        for (const s of [...Object.values(sites), hub]) await s?.cleanup();
        await Promise.all([hubReg, ...Object.values(siteRegs)].map((r) => r?.stop()));
        await new Promise((resolve) => server?.close(resolve));
        console.log(`  fleet e2e: ${timings.length} ups; whole file ${((Date.now() - started) / 1000).toFixed(0)}s`);
    });

    it("the first release reaches canary, then wave-1, then wave-2: one group per hub up, each after the one before soaked", async () => {
        await up(hub, "first release");
        const d1 = await hubDigest();
        httpd.push(d1);
        expect(await tagOf("canary")).toBe(d1);
        expect(await tagOf("wave-1")).toBeUndefined();
        expect(await channel("wave-1")).toMatchObject({ digest: null, status: "waiting", reason: "canary has no httpd yet" });

        await up(site("canary"), "canary mirrors");
        expect(await siteDigest("canary")).toBe(d1);
        await waitOutSoak("canary");
        await up(hub, "wave-1 promoted");
        expect(await channel("wave-1")).toMatchObject({ digest: d1, status: "promote" });
        expect(await tagOf("wave-1")).toBe(d1);
        // wave-2 is offered what wave-1 ran before this up: nothing yet.
        expect(await channel("wave-2")).toMatchObject({ digest: null, status: "waiting", reason: "wave-1 has no httpd yet" });

        await up(site("wave-1"), "wave-1 mirrors");
        await waitOutSoak("wave-1");
        await up(hub, "wave-2 promoted");
        expect(await tagOf("wave-2")).toBe(d1);
        await up(site("wave-2"), "wave-2 mirrors");
        for (const g of GROUPS) expect(await siteDigest(g.name)).toBe(d1);
    });

    it("a catalog change reaches canary first; wave-1 gets it only once canary released it healthy and soaked; then wave-2", async () => {
        await editHttpdPage("Change 1.");
        await up(hub, "change 1 built, to canary");
        const [d1, d2] = [httpd[0], await hubDigest()];
        httpd.push(d2);
        expect(d2).not.toBe(d1);
        expect(await tagOf("canary")).toBe(d2);
        // Offered what canary ran before this up: the same digest it runs.
        expect(await channel("wave-1")).toMatchObject({ digest: d1, status: "current", reason: `runs what canary runs (${short(d1)})` });
        expect(await tagOf("wave-1")).toBe(d1);

        // Canary has not released it: wave-1 waits, naming what site-a runs.
        await up(hub, "canary has not mirrored yet");
        expect(await channel("wave-1")).toMatchObject({ digest: d1, status: "waiting", reason: `waiting for canary: ${fqn("site-a")} runs ${short(d1)}, not ${short(d2)}` });

        // Canary released it and is healthy, but the soak has not passed.
        await up(site("canary"), "canary mirrors change 1");
        expect(await siteDigest("canary")).toBe(d2);
        await up(hub, "canary soaking");
        const soaking = await channel("wave-1");
        expect(soaking).toMatchObject({ digest: d1, status: "waiting" });
        expect(soaking.reason).toBe(`waiting until ${soaking.waitUntil}: canary soaks ${short(d2)} for ${SOAK_SECONDS}s`);
        expect(await tagOf("wave-1")).toBe(d1);

        await waitOutSoak("canary");
        await up(hub, "wave-1 promoted");
        expect(await channel("wave-1")).toMatchObject({
            digest: d2,
            status: "promote",
            reason: `every site of canary runs ${short(d2)} healthy and soaked ${SOAK_SECONDS}s, was ${short(d1)}`,
        });
        expect(await tagOf("wave-1")).toBe(d2);
        // wave-2 is offered what wave-1 ran before this up.
        expect(await tagOf("wave-2")).toBe(d1);

        await up(site("wave-1"), "wave-1 mirrors change 1");
        await waitOutSoak("wave-1");
        await up(hub, "wave-2 promoted");
        expect(await tagOf("wave-2")).toBe(d2);
        await up(site("wave-2"), "wave-2 mirrors change 1");
        for (const g of GROUPS) expect(await siteDigest(g.name)).toBe(d2);
    });

    it("an unhealthy canary halts the rollout: the preview says why, and the next change does not move wave-1", async () => {
        const d2 = httpd[1];
        health["site-a"] = 500;
        // A refresh runs the site's probe again: its report now says unhealthy.
        await up(site("canary"), "canary refresh, probe 500", ["--refresh"]);
        const report = (await site("canary").outputs()).rolloutReport;
        expect(report.health).toMatchObject({ healthy: false, detail: `GET ${probeBase}/site-a: 500 Internal Server Error — the test made this site unhealthy` });

        const halted = `halted: ${fqn("site-a")} is unhealthy on ${short(d2)}: health probe at `;
        const preview = await hub.preview(["--diff"]);
        expect(preview.stdout).toContain(halted);
        expect(preview.stdout).toContain(`rollout halted at canary: ${fqn("site-a")} is unhealthy on ${short(d2)}`);

        await editHttpdPage("Change 2.");
        await up(hub, "change 2 built, to canary; halted");
        const d3 = await hubDigest();
        httpd.push(d3);
        expect(d3).not.toBe(d2);
        expect(await tagOf("canary")).toBe(d3);
        await up(site("canary"), "canary mirrors change 2, still unhealthy");
        expect(await siteDigest("canary")).toBe(d3);
        await waitOutSoak("canary");
        await up(hub, "halted after canary's soak");
        const w1 = await channel("wave-1");
        expect(w1).toMatchObject({ digest: d2, status: "halted" });
        expect(w1.reason).toContain(`halted: ${fqn("site-a")} is unhealthy on ${short(d3)}: health probe at `);
        expect(w1.reason).toContain("500 Internal Server Error");
        expect(await channel("wave-2")).toMatchObject({ digest: d2, status: "halted" });
        expect(await tagOf("wave-1")).toBe(d2);
        expect(await tagOf("wave-2")).toBe(d2);
    });

    it("--refresh-bases: the same packages move no tag; a changed package rebuilds base and its child, released to canary", async () => {
        const before = { base: await hubDigest("base"), httpd: await hubDigest() };
        const same = await up(hub, "refresh, same packages", [], { [REFRESH_BASES_ENV]: String(Date.now()) });
        expect(same.stdout).toMatch(/\[build base\] a refresh of the bases was asked/);
        expect(same.stdout).toMatch(/refreshed from fresh packages: the same \d+ packages, so nothing is pushed/);
        expect({ base: await hubDigest("base"), httpd: await hubDigest() }).toEqual(before);
        expect(await tagOf("canary", "base")).toBe(before.base);
        expect(await tagOf("canary")).toBe(before.httpd);

        // As if libc6 had an older version when base's packages were recorded: what a
        // Debian security update looks like to the next refresh.
        const exported = JSON.parse((await hub.pulumi(["stack", "export"])).stdout);
        const build = exported.deployment.resources.find((r: { type: string; outputs?: { name?: string } }) => r.type.endsWith(":ImageBuild") && r.outputs?.name === "base");
        const libc = (build.outputs.packages as string[]).find((p) => p.startsWith("libc6="))!;
        expect(libc).toBeDefined();
        build.outputs.packages = build.outputs.packages.map((p: string) => (p === libc ? "libc6=2.36-1" : p));
        const file = path.join(hub.dir, "state-edited.json");
        await fs.writeFile(file, JSON.stringify(exported));
        await hub.pulumi(["stack", "import", "--file", file]);

        const changed = await up(hub, "refresh, libc6 changed", [], { [REFRESH_BASES_ENV]: String(Date.now()) });
        expect(changed.stdout).toContain(`refreshed from fresh packages: 1 package change(s): libc6 2.36-1 → ${libc.slice("libc6=".length)}`);
        const after = { base: await hubDigest("base"), httpd: await hubDigest() };
        expect(after.base).not.toBe(before.base);
        expect(after.httpd).not.toBe(before.httpd);
        httpd.push(after.httpd);
        expect(await tagOf("canary", "base")).toBe(after.base);
        expect(await tagOf("canary")).toBe(after.httpd);
        // Still halted: the later groups keep what they run.
        expect(await tagOf("wave-1", "base")).toBe(before.base);
        expect(await tagOf("wave-1")).toBe(httpd[1]);
    });

    it("retention (keepLast 1) deletes the unreferenced first build and keeps the one canary's lagging site still runs", async () => {
        const [d1, d2, d3, d4] = httpd;
        expect(httpd).toHaveLength(4);
        // site-a runs d3 (it has not mirrored the refreshed tree); no tag points at d3 any more.
        expect(await siteDigest("canary")).toBe(d3);
        const tags = await hubClient.listTags("hub/httpd");
        for (const t of tags) expect(await hubClient.resolve("hub/httpd", t)).not.toBe(d3);

        await set(hub, "retention.keepLast", "1");
        const r = await up(hub, "retention");
        expect(r.stdout).toContain(`[retention ${hubReg.address}/hub/httpd] deleted ${d1}`);
        expect(await hubClient.resolve("hub/httpd", d1)).toBeUndefined();
        for (const d of [d2, d3, d4]) expect(await hubClient.resolve("hub/httpd", d)).toBe(d);
        const retention = (await hub.resources()).find((x) => x.type.endsWith(":RegistryRetention") && x.outputs?.repository === "hub/httpd")!;
        expect(retention.outputs!.deleted.map((x: { digest: string }) => x.digest)).toEqual([d1]);
        expect(retention.outputs!.protected).toContain(d3);
        // base's two builds: the newest, and the one wave-1 and wave-2 run.
        const base = (await hub.resources()).find((x) => x.type.endsWith(":RegistryRetention") && x.outputs?.repository === "hub/base")!;
        expect(base.outputs!.deleted).toEqual([]);
    });

    it("npm run preview -- --all previews the hub and its three sites in one summary", async () => {
        for (const g of GROUPS) await fs.copyFile(path.join(sites[g.site].dir, `stacks/Pulumi.${g.site}.yaml`), path.join(hub.dir, `stacks/Pulumi.${g.site}.yaml`));
        const env = { PULUMI_BACKEND_URL: `file://${hub.backendDir}`, PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase" };
        const t = Date.now();
        const result = await run("node", ["-r", "ts-node/register/transpile-only", "scripts/preview.ts", "--all", "--summary-only"], { cwd: hub.dir, env, okCodes: [0, 1], timeoutMs: 15 * 60_000 });
        console.log(`  fleet preview of 4 stacks in ${((Date.now() - t) / 1000).toFixed(1)}s`);
        expect(result.exitCode, result.stdout + result.stderr).toBe(0);
        expect(result.stdout).toMatch(
            /^## image-factory fleet preview \(4 stacks\)\n\n- `hub`: previewed in \d+s\n- `site-a`: previewed in \d+s\n- `site-b`: previewed in \d+s\n- `site-c`: previewed in \d+s\n/m,
        );
    });
});
