// The pull request workflows (actionlint checks them: test/providers/workflows.test.ts)
// and the pure pieces they run: which stacks a change touches, what a preview means.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { changedStacks } from "../../scripts/changed-stacks";
import { summarizePreview, type PreviewStep } from "../../scripts/preview-summary";
import { lineageHtml, lineageMermaid } from "../../scripts/report";

const ROOT = path.resolve(__dirname, "../..");
const WORKFLOW = path.join(ROOT, ".github/workflows/preview.yml");

describe(".github/workflows/checks.yml", () => {
    const CHECKS = path.join(ROOT, ".github/workflows/checks.yml");
    it("runs lint, the type check and the unit tier on pull requests", async () => {
        const text = await fs.readFile(CHECKS, "utf8");
        expect(text).toMatch(/on:\s+pull_request:/);
        for (const step of ["npm ci", "npm run lint", "npm run typecheck", "npm run test:unit"]) expect(text).toContain(`run: ${step}`);
    });
});

describe(".github/workflows/preview.yml", () => {
    it("previews with pulumi/actions: comment on the pull request, the diff, the policy pack, the project's own set-up", async () => {
        const text = await fs.readFile(WORKFLOW, "utf8");
        expect(text).toMatch(/uses: pulumi\/actions@v6[\s\S]*command: preview[\s\S]*comment-on-pr: true[\s\S]*policyPacks: policy/);
        expect(text).toMatch(/run: bash scripts\/setup\.sh/);
        expect(text).toMatch(/pulumi-version-file: \.pulumi\.version/);
    });
});

describe("changedStacks", () => {
    const stacks = ["hub", "local", "site-a"];
    it("a stack file touches its stack; local is never previewed in CI", () => {
        expect(changedStacks(["stacks/Pulumi.site-a.yaml", "README.md"], stacks)).toEqual(["site-a"]);
        expect(changedStacks(["stacks/Pulumi.local.yaml"], stacks)).toEqual([]);
    });
    it("the program, the catalog or the policy touch every stack", () => {
        for (const f of ["images/homepage.yaml", "components/images/pipeline.ts", "infra/site.ts", "policy/rules.ts", "package-lock.json"]) {
            expect(changedStacks([f], stacks), f).toEqual(["hub", "site-a"]);
        }
    });
    it("docs alone touch nothing", () => {
        expect(changedStacks(["README.md", "bench/pipeline.ts"], stacks)).toEqual([]);
    });
});

describe("summarizePreview", () => {
    const urn = (type: string, name: string) => `urn:pulumi:hub::image-factory::image-factory:images:ImagePipeline$pulumi-nodejs:dynamic/image-factory:${type}::${name}`;
    const U = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const h = (c: string) => `sha256:${c.repeat(64)}`;
    const steps: PreviewStep[] = [
        { op: "same", urn: urn("ImageBuild", "base") },
        {
            op: "update",
            urn: urn("ImageBuild", "homepage"),
            diffReasons: ["definitionHash", "version", "containerfile"],
            oldState: { inputs: { version: "1.0.0", definitionHash: h("1") } },
            newState: { inputs: { version: "1.1.0", definitionHash: h("2") } },
        },
        { op: "update", urn: urn("ImageBuild", "child"), diffReasons: ["parentRef"], oldState: { inputs: {} }, newState: { inputs: { parentRef: U } } },
        { op: "update", urn: urn("ImageTest", "homepage") },
        { op: "update", urn: urn("ImageRelease", "homepage"), newState: { inputs: { registry: "r:5000", repository: "hub/homepage", digest: U, tags: ["1.1.0", "latest"], reason: "latest tested build" } } },
        { op: "update", urn: urn("ImageRelease", "base"), newState: { inputs: { registry: "r:5000", repository: "hub/base", digest: h("3"), tags: ["1.0.0", "latest"], reason: "pinned to 1.0.0" } } },
        { op: "replace", urn: "urn:pulumi:hub::image-factory::pulumi-nodejs:dynamic/image-factory:PreStagedDisk::demo", diffReasons: ["contentSets"] },
    ];

    it("says which images rebuild and why, which tags move, which disks are remade", () => {
        const s = summarizePreview("hub", steps);
        expect(s).toContain("**Images that rebuild (2)**");
        expect(s).toContain(`- \`homepage\`: version 1.0.0 → 1.1.0; definition changed (${h("1").slice(0, 19)} → ${h("2").slice(0, 19)})`);
        expect(s).toContain("- `child`: its parent rebuilds");
        expect(s).toContain("- `r:5000/hub/homepage`: 1.1.0, latest → the new tested build (latest tested build)");
        expect(s).toContain(`- \`r:5000/hub/base\`: 1.0.0, latest → ${h("3").slice(0, 19)} (pinned to 1.0.0)`);
        expect(s).toContain("**Disks that are remade (1)**\n- `demo`: contentSets");
        expect(s).not.toContain("`base`: ");
    });

    it("a stale root image says why it rebuilds (its refresh policy)", () => {
        const now = Date.parse("2026-12-02T12:00:00Z");
        const stale: PreviewStep = {
            op: "update",
            urn: urn("ImageBuild", "base"),
            diffReasons: [],
            oldState: { outputs: { refreshedAt: "2026-11-24T12:00:00Z" } },
            newState: { inputs: { refresh: { everySeconds: 7 * 86_400, requestedAt: null, packageManager: "apt" } } },
        };
        expect(summarizePreview("local", [stale], now)).toContain("- `base`: stale: its packages were fetched 8d ago (refresh.every 7d); released again only if a package changed");
    });

    it("an unchanged stack says so", () => {
        const s = summarizePreview("hub", [{ op: "same", urn: urn("ImageBuild", "base") }]);
        expect(s).toContain("- none: every image's definition and parent are unchanged");
        expect(s).toContain("**Disks that are remade (0)**\n- none");
    });
});

describe("lineage report", () => {
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    const outputs = {
        schemaVersion: 1 as const,
        site: { name: "local", role: "local" },
        registry: { url: "127.0.0.1:5000" },
        images: {
            base: { ref: `r/demo/base@${d("a")}`, digest: d("a"), tags: ["1.0.0", "latest"], version: "1.0.0", parent: null, definitionHash: d("1"), tests: { passed: 4, total: 4 } },
            httpd: { ref: `r/demo/httpd@${d("b")}`, digest: d("b"), tags: ["1.0.0", "latest"], version: "1.0.0", parent: "base", definitionHash: d("2"), tests: { passed: 2, total: 2 } },
            homepage: { ref: `r/demo/homepage@${d("c")}`, digest: d("c"), tags: ["1.1.0", "latest"], version: "1.1.0", parent: "httpd", definitionHash: d("3"), tests: { passed: 1, total: 1 } },
        },
        disks: { demo: { manifest: [{ digest: d("c") }] } },
    } as any;

    it("renders the tree as Mermaid: versions, digests, tests, disks", () => {
        expect(lineageMermaid(outputs)).toBe(
            [
                "flowchart TD",
                `    base["<b>base</b> 1.0.0<br/>${"a".repeat(12)}<br/>4/4 tests passed"]`,
                `    homepage["<b>homepage</b> 1.1.0<br/>${"c".repeat(12)}<br/>1/1 tests passed<br/>on disk demo"]`,
                `    httpd["<b>httpd</b> 1.0.0<br/>${"b".repeat(12)}<br/>2/2 tests passed"]`,
                "    base --> httpd",
                "    httpd --> homepage",
            ].join("\n"),
        );
    });

    it("renders a self-contained HTML page, children nested under parents", () => {
        const html = lineageHtml("local", outputs);
        expect(html).not.toMatch(/<script|https?:\/\//);
        expect(html).toMatch(/<b>base<\/b>[\s\S]*<ul><li><span class="node"><b>httpd<\/b>[\s\S]*<ul><li><span class="node"><b>homepage<\/b>/);
        expect(html).toContain("on disk demo");
    });
});
