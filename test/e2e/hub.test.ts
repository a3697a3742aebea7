// Hub and fleet on the real engine: two stacks on one file backend. `hub`
// builds; `site-b` reads the hub's outputs through StackReference and mirrors
// the released images by digest into its own registry on another port. A
// consumer program reads site-b with the typed reader.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { RegistryClient } from "../../components/registry/client";
import { testRegistry } from "../support/registry";
import { ROOT, TestStack } from "./harness";

const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images"];
const SELECT = ["base", "httpd", "homepage"];

describe("hub → site mirroring on one backend", () => {
    let hubReg: Awaited<ReturnType<typeof testRegistry>>;
    let siteReg: Awaited<ReturnType<typeof testRegistry>>;
    let hub: TestStack;
    let site: TestStack;
    let consumer: TestStack;
    const set = (s: TestStack, key: string, value: string) => s.pulumi(["config", "set", "--path", `image-factory:${key}`, value]);
    const mirrors = async () =>
        Object.fromEntries((await site.resources()).filter((r) => r.type.endsWith("image-factory:RegistryMirror")).map((r) => [r.outputs!.name, r.outputs!]));

    beforeAll(async () => {
        [hubReg, siteReg] = await Promise.all([testRegistry(), testRegistry()]);
        hub = await TestStack.create({ files: PROJECT_FILES, stack: "hub" });
        site = await TestStack.create({ files: PROJECT_FILES, stack: "site-b", backendDir: hub.backendDir });
        for (const [k, v] of [["site.name", "hub"], ["site.role", "local"], ["registry.url", hubReg.address], ["registry.namespace", "hub"]]) await set(hub, k, v);
        await hub.pulumi(["config", "set", "--path", "image-factory:images.select[0]", "homepage"]);
        // Mirroring is what this test is about; the boot gate has its own (boot.test.ts).
        await hub.pulumi(["config", "set", "--path", "image-factory:boot.enabled", "false"]);
        for (const [k, v] of [["site.name", "site-b"], ["site.role", "local"], ["registry.url", siteReg.address], ["registry.namespace", "site-b"], ["hub.stack", "organization/image-factory/hub"]]) await set(site, k, v);
        for (let i = 0; i < SELECT.length; i++) await site.pulumi(["config", "set", "--path", `image-factory:images.select[${i}]`, SELECT[i]]);
    });
    afterAll(async () => {
        for (const s of [consumer, site, hub]) await s?.cleanup();
        await Promise.all([hubReg?.stop(), siteReg?.stop()]);
    });

    it("the hub builds and releases its images", async () => {
        await hub.up();
        const { images } = await hub.outputs();
        expect(Object.keys(images).sort()).toEqual([...SELECT].sort());
    });

    it("site-b mirrors them by digest into its own registry; its outputs point at its copies", async () => {
        await site.up();
        const hubImages = (await hub.outputs()).images;
        const { images, registry } = await site.outputs();
        expect(registry.url).toBe(siteReg.address);
        const client = new RegistryClient(siteReg.address);
        for (const name of SELECT) {
            expect(images[name].digest).toBe(hubImages[name].digest);
            expect(images[name].ref).toBe(`${siteReg.address}/site-b/${name}@${hubImages[name].digest}`);
            expect(images[name].tags).toEqual(hubImages[name].tags);
            for (const tag of images[name].tags) expect(await client.resolve(`site-b/${name}`, tag)).toBe(hubImages[name].digest);
        }
        const m = await mirrors();
        for (const name of SELECT) expect(m[name].copiedBlobs).toBeGreaterThan(0);
    });

    it("a second up copies no blob", async () => {
        const r = await site.up();
        expect(r.stdout).not.toMatch(/\[mirror \w+\]/);
        expect(r.stdout).toMatch(/\d+ unchanged/);
        await site.preview(["--expect-no-changes"]);
    });

    it("a hub change travels as only the blobs the site lacks", async () => {
        const html = path.join(hub.dir, "images/files/homepage/index.html");
        await fs.writeFile(html, (await fs.readFile(html, "utf8")).replace("</h1>", " (hub update)</h1>"));
        await hub.up();
        const hubDigest = (await hub.outputs()).images.homepage.digest;
        const r = await site.up();
        expect(r.stdout).toMatch(/\[mirror homepage\]/);
        expect(r.stdout).not.toMatch(/\[mirror (base|httpd)\]/);
        const m = await mirrors();
        // The new top layer and the image config travel; base and httpd layers are already there.
        expect(m.homepage.copiedBlobs).toBe(2);
        expect(m.homepage.skippedBlobs).toBeGreaterThan(0);
        expect((await site.outputs()).images.homepage.digest).toBe(hubDigest);
    });

    it("another team's program reads site-b through the typed reader", async () => {
        consumer = await TestStack.create({
            from: path.join(ROOT, "examples/consumer"),
            files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"],
            stack: "rollout",
            backendDir: hub.backendDir,
        });
        await consumer.pulumi(["config", "set", "site", "organization/image-factory/site-b"]);
        await consumer.up();
        const out = await consumer.outputs();
        const siteImages = (await site.outputs()).images;
        expect(out).toMatchObject({ imageRef: siteImages.homepage.ref, imageVersion: "1.0.0", registry: siteReg.address, siteName: "site-b" });
        await consumer.pulumi(["config", "set", "image", "database"]);
        const err = (await consumer.up().catch((e: ExecError) => e)) as ExecError;
        expect(err).toBeInstanceOf(ExecError);
        expect(err.stdout).toMatch(/organization\/image-factory\/site-b publishes no image "database" \(it has: base, homepage, httpd\)/);
        await consumer.destroy();
    });

    it("destroy removes the site's copies, then the hub's images", async () => {
        await site.destroy();
        const client = new RegistryClient(siteReg.address);
        for (const name of SELECT) expect(await client.listTags(`site-b/${name}`)).toEqual([]);
        await hub.destroy();
        expect(await hub.resources()).toEqual([]);
    });
});
