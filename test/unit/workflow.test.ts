// The pull request workflows (actionlint checks them: test/providers/workflows.test.ts)
// and the pure pieces they run: which stacks a change touches, what a preview means.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { changedStacks } from "../../scripts/changed-stacks";
import { parsePreviewArgs } from "../../scripts/preview";
import { fleetFailed, lastLines, type PreviewStep, type StackPreview, summarizeFleet, summarizePreview } from "../../scripts/preview-summary";
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
    it("previews every affected stack in one job (npm run preview -- --all --since <base>) after the project's own set-up", async () => {
        const text = await fs.readFile(WORKFLOW, "utf8");
        expect(text).toMatch(/run: bash scripts\/setup\.sh[\s\S]*npm run --silent preview -- --all --since "origin\/\$\{BASE_REF\}"/);
        expect(text).not.toMatch(/matrix:/);
        expect(text.match(/npm run --silent preview/g)).toHaveLength(1);
    });
    it("upserts one pull request comment found by its marker, with minimal permissions", async () => {
        const text = await fs.readFile(WORKFLOW, "utf8");
        // Read-only but for the preview job, which writes the comment.
        expect(text).toMatch(/^permissions:\n {2}contents: read\n\n/m);
        expect(text.match(/pull-requests: write/g)).toHaveLength(1);
        expect(text).toMatch(/\n {2}preview:\n(?: {4}.*\n)*? {4}permissions:\n {6}contents: read\n {6}pull-requests: write\n/);
        expect(text).toContain("marker='<!-- image-factory fleet preview -->'");
        expect(text).toMatch(/select\(\.body \| startswith[\s\S]*--method PATCH "repos\/\$\{REPO\}\/issues\/comments\/\$\{id\}"[\s\S]*--method POST "repos\/\$\{REPO\}\/issues\/\$\{PR\}\/comments"/);
        // The job fails on a failed stack or policy, after the comment.
        expect(text).toMatch(/Comment on the pull request[\s\S]*if: steps\.preview\.outputs\.exit != '0'\n\s+run: exit 1/);
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

describe("summarizePreview: channels and boot artifact sets", () => {
    const urn = (type: string, name: string) => `urn:pulumi:hub::image-factory::image-factory:fleet:FleetRollout$pulumi-nodejs:dynamic/image-factory:${type}::${name}`;
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    const chan = { registry: "r:5000", repository: "hub/base", image: "base", tag: "wave-1" };
    it("names each channel that moves or holds, and why; each boot artifact set that is remade", () => {
        const s = summarizePreview("hub", [
            { op: "update", urn: urn("GroupChannel", "wave-1-base"), oldState: { inputs: { ...chan, digest: d("1") } }, newState: { inputs: { ...chan, group: "wave-1", digest: d("2"), status: "promote", reason: "canary healthy, soaked 2h" } } },
            { op: "update", urn: urn("GroupChannel", "rest-base"), oldState: { inputs: { ...chan, tag: "rest", digest: d("1") } }, newState: { inputs: { ...chan, tag: "rest", group: "rest", digest: d("1"), status: "waiting", reason: "soak until 14:00" } } },
            { op: "update", urn: urn("BootArtifacts", "boot-edge-node"), diffReasons: ["ref"], newState: { inputs: { image: "edge-node" } } },
            { op: "create", urn: urn("BootArtifacts", "boot-kiosk"), newState: { inputs: { image: "kiosk" } } },
        ]);
        expect(s).toContain(`**Channels that move**\n- \`r:5000/hub/base:wave-1\` (group wave-1): → ${d("2").slice(0, 19)} — promote: canary healthy, soaked 2h`);
        expect(s).toContain(`- \`r:5000/hub/base:rest\` (group rest): stays at ${d("1").slice(0, 19)} — waiting: soak until 14:00`);
        expect(s).toContain("**Boot artifact sets that are remade (2)**\n- `edge-node`: its image moved to another digest\n- `kiosk`: new set");
        expect(s).not.toContain("Other changes");
    });
});

describe("summarizeFleet: every stack's preview as one summary", () => {
    const urn = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::image-factory::image-factory:images:ImagePipeline$pulumi-nodejs:dynamic/image-factory:${type}::${name}`;
    const ok: StackPreview = {
        stack: "hub",
        seconds: 41.6,
        violations: [],
        steps: [
            { op: "create", urn: urn("hub", "ImageBuild", "kiosk") },
            { op: "same", urn: urn("hub", "ImageBuild", "base") },
        ],
    };
    const guarded: StackPreview = {
        stack: "site-a",
        seconds: 30,
        steps: [{ op: "update", urn: urn("site-a", "ImageBuild", "httpd"), diffReasons: ["parentRef"], oldState: { inputs: {} }, newState: { inputs: { parentRef: "sha256:ab" } } }],
        violations: [
            { policy: "no-plain-secrets-in-config", level: "mandatory", message: "Stack configuration holds no secret-looking value in plain text.\nstacks/Pulumi.site-a.yaml: myteam:apiToken looks like a secret", urn: "urn:pulumi:site-a::image-factory::pulumi:pulumi:Stack::image-factory-site-a" },
            { policy: "builder-vm-resource-limits", level: "advisory", message: "the builder VM asks for 64 CPUs" },
        ],
        error: "error: preview failed",
    };
    const broken: StackPreview = {
        stack: "site-b",
        seconds: 12.2,
        steps: [{ op: "create", urn: "urn:pulumi:site-b::image-factory::pulumi:pulumi:Stack::image-factory-site-b" }],
        violations: [],
        error: "ConfigError: invalid stack configuration:\n  - image-factory:images.select[0]: unknown image \"nope\"\n```",
    };

    it("lists every site with its verdict, then each site's summary", () => {
        const s = summarizeFleet([ok, guarded, broken]);
        expect(s.startsWith("## image-factory fleet preview (3 stacks)\n\n- `hub`: previewed in 42s\n- `site-a`: **policy failed** (1) in 30s\n- `site-b`: **preview failed** in 12s\n")).toBe(true);
        // Each previewed site gets the one summariser's section, in order.
        expect(s).toContain(summarizePreview("hub", ok.steps).trimEnd());
        expect(s).toContain(summarizePreview("site-a", guarded.steps).trimEnd());
        expect(s.indexOf("stack `hub`")).toBeLessThan(s.indexOf("stack `site-a`"));
        expect(s).toContain("- `kiosk`: new image");
        expect(s).toContain("- `httpd`: its parent moved to another digest");
    });

    it("a policy failure is listed under its site, with the rule, the resource and the message on one line", () => {
        const s = summarizeFleet([guarded]);
        expect(s).toContain(
            "**Policy failures (1)**\n- [mandatory] `no-plain-secrets-in-config` (`pulumi:pulumi:Stack::image-factory-site-a`): Stack configuration holds no secret-looking value in plain text. stacks/Pulumi.site-a.yaml: myteam:apiToken looks like a secret",
        );
        expect(s).toContain("**Policy warnings (1)**\n- [advisory] `builder-vm-resource-limits`: the builder VM asks for 64 CPUs");
        expect(fleetFailed([guarded])).toBe(true);
    });

    it("a failed stack shows its error's last lines in a code block (a fence inside cannot close it), not a partial summary", () => {
        const s = summarizeFleet([ok, broken]);
        expect(s).toContain("### image-factory preview: stack `site-b` — failed\n\nIts last lines:\n\n```\nConfigError: invalid stack configuration:\n  - image-factory:images.select[0]: unknown image \"nope\"\n'''\n```");
        expect(s.slice(s.indexOf("stack `site-b`"))).not.toContain("Images that rebuild");
        expect(fleetFailed([ok, broken])).toBe(true);
        expect(fleetFailed([ok])).toBe(false);
    });

    it("no affected stack says so", () => {
        expect(summarizeFleet([])).toBe("## image-factory fleet preview (0 stacks)\n\n- no stack is affected\n");
    });

    it("an error's last lines: colour codes and a stack trace's frames are dropped, the message kept", () => {
        const text = ["Running program 'infra/index.ts' failed with an unhandled exception:", "\x1b[31mConfigError\x1b[39m: invalid stack configuration:", "  - image-factory:registry.url: bad", "    at parseSiteConfig (infra/config.ts:173:37)", "    at Module._compile (node:internal/modules/cjs/loader:1521:14)"].join("\n");
        expect(lastLines(text)).toBe("Running program 'infra/index.ts' failed with an unhandled exception:\nConfigError: invalid stack configuration:\n  - image-factory:registry.url: bad");
        expect(lastLines(Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n"), 3)).toBe("line 27\nline 28\nline 29");
    });
});

describe("npm run preview arguments", () => {
    it("one stack, or --all with an optional --since <ref>, each with --summary-only", () => {
        expect(parsePreviewArgs(["hub"])).toEqual({ stack: "hub", all: false, summaryOnly: false });
        expect(parsePreviewArgs(["--all", "--summary-only"])).toEqual({ all: true, summaryOnly: true });
        expect(parsePreviewArgs(["--all", "--since", "origin/main"])).toEqual({ all: true, since: "origin/main", summaryOnly: false });
        expect(parsePreviewArgs(["--since=main", "--all"])).toMatchObject({ all: true, since: "main" });
    });
    it("a bad or misplaced flag is named", () => {
        expect(() => parsePreviewArgs(["--all", "--sumary-only"])).toThrow(/^unknown flag --sumary-only\n/);
        expect(() => parsePreviewArgs(["--all", "--since"])).toThrow(/^--since needs a git ref/);
        expect(() => parsePreviewArgs(["--all", "--since", "--summary-only"])).toThrow(/^--since needs a git ref/);
        expect(() => parsePreviewArgs(["hub", "--since", "main"])).toThrow(/^--since chooses the stacks of --all; add --all/);
        expect(() => parsePreviewArgs(["--all", "hub"])).toThrow(/^--all previews every stack: name no stack \(got hub\)/);
        expect(() => parsePreviewArgs(["hub", "site-a"])).toThrow(/^one stack at a time \(got hub and site-a\)/);
        expect(() => parsePreviewArgs([])).toThrow(/^usage: npm run preview -- <stack>/);
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
