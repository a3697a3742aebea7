// The image pipeline on the real engine, against a real registry: the demo tree
// is built, tested and released; a no-op up builds nothing; a change rebuilds
// exactly its subtree; a pin rolls tags back; a failing test stops the release;
// destroy removes what the stack pushed.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { RegistryClient } from "../../components/registry/client";
import { testRegistry } from "../support/registry";
import { TestStack } from "./harness";

const IMAGES = ["base", "database", "httpd", "homepage"];
const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images"];

interface Step {
    op: string;
    urn: string;
}

/** The pipeline steps a preview plans, as "<op> <Type>::<name>" (stack and component steps left out). */
async function plannedSteps(stack: TestStack): Promise<string[]> {
    const r = await stack.preview(["--json"]);
    const steps: Step[] = JSON.parse(r.stdout).steps ?? [];
    return steps
        .filter((s) => s.op !== "same" && /image-factory:Image(Build|Test|Release)::/.test(s.urn))
        .map((s) => `${s.op} ${s.urn.replace(/.*image-factory:(Image\w+)::(.*)$/, "$1::$2")}`)
        .sort();
}

describe("image pipeline on the real engine", () => {
    let reg: Awaited<ReturnType<typeof testRegistry>>;
    let stack: TestStack;
    let client: RegistryClient;
    const digests: Record<string, string[]> = {};
    const edit = async (file: string, fn: (t: string) => string) => {
        const p = path.join(stack.dir, file);
        await fs.writeFile(p, fn(await fs.readFile(p, "utf8")));
    };
    const tagTarget = (image: string, tag: string) => client.resolve(`e2e/${image}`, tag);

    beforeAll(async () => {
        reg = await testRegistry();
        client = new RegistryClient(reg.address);
        stack = await TestStack.create({ files: PROJECT_FILES, stack: "pipeline" });
        await stack.pulumi(["config", "set", "--path", "image-factory:site.name", "e2e"]);
        await stack.pulumi(["config", "set", "--path", "image-factory:site.role", "local"]);
        await stack.pulumi(["config", "set", "--path", "image-factory:registry.url", reg.address]);
        await stack.pulumi(["config", "set", "--path", "image-factory:registry.namespace", "e2e"]);
        // The demo tree (edge-node, a kernel image, is covered by the boot artifacts tests).
        await stack.pulumi(["config", "set", "--path", "image-factory:images.select[0]", "homepage"]);
        await stack.pulumi(["config", "set", "--path", "image-factory:images.select[1]", "database"]);
        // Builds, tests, pins and rollbacks; the boot gate has its own test (boot.test.ts).
        await stack.pulumi(["config", "set", "--path", "image-factory:boot.enabled", "false"]);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await reg?.stop();
    });

    it("up builds, tests and releases the four images; outputs hold their digests", async () => {
        await stack.up();
        const { images, schemaVersion, registry } = await stack.outputs();
        expect(schemaVersion).toBe(1);
        expect(registry.url).toBe(reg.address);
        expect(Object.keys(images).sort()).toEqual([...IMAGES].sort());
        for (const name of IMAGES) {
            const img = images[name];
            expect(img.ref).toBe(`${reg.address}/e2e/${name}@${img.digest}`);
            expect(img.tags).toEqual(["1.0.0", "latest"]);
            expect(await tagTarget(name, "1.0.0")).toBe(img.digest);
            expect(await tagTarget(name, "latest")).toBe(img.digest);
            digests[name] = [img.digest];
        }
        expect(images.homepage.parent).toBe("httpd");
        expect(images.base.parent).toBeNull();
        // Every image was tested, and the test saw the digest that was released.
        const tests = (await stack.resources()).filter((r) => r.type.endsWith("image-factory:ImageTest"));
        expect(tests).toHaveLength(4);
        for (const t of tests) {
            expect(t.outputs!.results.length).toBeGreaterThan(0);
            expect(t.outputs!.results.every((r: { passed: boolean }) => r.passed)).toBe(true);
            expect(t.outputs!.digest).toBe(images[t.outputs!.name].digest);
        }
    });

    it("a second up builds nothing, and preview --expect-no-changes passes", async () => {
        const r = await stack.up();
        expect(r.stdout).not.toMatch(/\[build \w+\] building/);
        expect(r.stdout).toMatch(/\d+ unchanged/);
        await stack.preview(["--expect-no-changes"]);
    });

    it("a change to homepage: the preview shows only homepage's build, test and release; up rebuilds only it", async () => {
        await edit("images/homepage.yaml", (t) => t.replace('version: "1.0.0"', 'version: "1.1.0"'));
        await edit("images/files/homepage/index.html", (t) => t.replace("Image Mode for the edge", "Image Mode for the edge, v1.1"));
        expect(await plannedSteps(stack)).toEqual(["update ImageBuild::homepage", "update ImageRelease::homepage", "update ImageTest::homepage"]);
        const diff = await stack.preview(["--diff"]);
        // The engine pads names to the longest input in the block (parentPublicKey since signing).
        expect(diff.stdout).toMatch(/~ definitionHash\s*: "sha256:[a-f0-9]+" => "sha256:[a-f0-9]+"/);
        expect(diff.stdout).toMatch(/~ version\s*: "1\.0\.0" => "1\.1\.0"/);
        const r = await stack.up();
        expect(r.stdout).toMatch(/\[build homepage\] building homepage 1\.1\.0/);
        expect(r.stdout).not.toMatch(/\[build (base|httpd|database)\] building/);
        const { images } = await stack.outputs();
        for (const name of ["base", "httpd", "database"]) expect(images[name].digest).toBe(digests[name][0]);
        expect(images.homepage.digest).not.toBe(digests.homepage[0]);
        expect(images.homepage.tags).toEqual(["1.1.0", "latest"]);
        expect(await tagTarget("homepage", "latest")).toBe(images.homepage.digest);
        digests.homepage.push(images.homepage.digest);
    });

    it("a pin of homepage to its previous version moves its tags back to the previous digest", async () => {
        await stack.pulumi(["config", "set", "--path", "image-factory:images.pins.homepage", "1.0.0"]);
        expect(await plannedSteps(stack)).toEqual(["update ImageRelease::homepage"]);
        await stack.up();
        const [v1, v11] = digests.homepage;
        expect(await tagTarget("homepage", "latest")).toBe(v1);
        expect(await tagTarget("homepage", "1.0.0")).toBe(v1);
        expect(await tagTarget("homepage", "1.1.0")).toBe(v11); // the newer build is kept, just not released
        const { images } = await stack.outputs();
        expect(images.homepage).toMatchObject({ digest: v1, version: "1.0.0", tags: ["1.0.0", "latest"] });
    });

    it("a failing test fails the up with the test's output, and the image's tags do not move", async () => {
        await stack.pulumi(["config", "rm", "--path", "image-factory:images.pins.homepage"]);
        await edit("images/homepage.yaml", (t) =>
            t.replace('version: "1.1.0"', 'version: "1.2.0"') +
                "  - name: shows the release banner\n    service:\n      start: [apache2ctl, -D, FOREGROUND]\n      http: { port: 80, path: /, contains: RELEASE-BANNER }\n",
        );
        const err = (await stack.up().catch((e: ExecError) => e)) as ExecError;
        expect(err).toBeInstanceOf(ExecError);
        const output = `${err.stdout}\n${err.stderr}`;
        expect(output).toMatch(/homepage: 1 of 2 tests failed for .*\/e2e\/homepage@sha256:[a-f0-9]{64}; nothing is released/);
        expect(output).toMatch(/✗ shows the release banner\n\s+GET \/ on port 80 → 200, body does not contain "RELEASE-BANNER"/);
        const [v1] = digests.homepage;
        expect(await tagTarget("homepage", "latest")).toBe(v1);
        expect(await tagTarget("homepage", "1.2.0")).toBeUndefined();
    });

    it("a change to base rebuilds all four images", async () => {
        await edit("images/homepage.yaml", (t) => t.replace(/ {2}- name: shows the release banner[\s\S]*$/, ""));
        await stack.up(); // the fixed homepage 1.2.0 is tested and released
        const before = (await stack.outputs()).images;
        await edit("images/base.yaml", (t) => t.replace('content: "base 1.0.0\\n"', 'content: "base 1.0.1\\n"'));
        const planned = await plannedSteps(stack);
        for (const name of IMAGES) {
            expect(planned).toContain(`update ImageBuild::${name}`);
            expect(planned).toContain(`update ImageRelease::${name}`);
        }
        await stack.up();
        const after = (await stack.outputs()).images;
        for (const name of IMAGES) {
            expect(after[name].digest, name).not.toBe(before[name].digest);
            expect(after[name].definitionHash, name).not.toBe(before[name].definitionHash);
            digests[name].push(before[name].digest, after[name].digest);
        }
    });

    it("destroy removes every manifest the stack pushed", async () => {
        await stack.destroy();
        expect(await stack.resources()).toEqual([]);
        for (const name of IMAGES) {
            for (const d of new Set(digests[name])) expect(await client.resolve(`e2e/${name}`, d), `${name}@${d}`).toBeUndefined();
            expect(await client.listTags(`e2e/${name}`)).toEqual([]);
        }
    });
});
