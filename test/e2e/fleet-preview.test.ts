// `npm run preview -- --all` on the real engine: three stacks of this project on one
// file backend, previewed in one run through the Automation API with the policy pack
// (nothing is built or booted: a preview runs only check and diff). `local` is the
// shipped stacks/Pulumi.local.yaml (with the S3 keys `npm run up` would write),
// `edge` a small site, and `broken` has a bad config value: it is reported with the
// program's error while the other two are summarised, and the run exits 1.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "../../components/exec";
import { TestStack } from "./harness";

const FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", ".pulumi.version", "infra", "components", "images", "policy", "scripts", "stacks"];
/** One secrets passphrase for the whole fleet run, as CI has; the shipped local stack's own. */
const ENV = { PULUMI_CONFIG_PASSPHRASE: "image-factory-local" };

const stackFile = (name: string, extra: string) =>
    `config:\n  image-factory:site:\n    name: ${name}\n    role: local\n  image-factory:registry:\n    url: 127.0.0.1:5999\n    namespace: ${name}\n${extra}`;

describe("npm run preview -- --all: one summary for the fleet", () => {
    let local: TestStack;
    let result: RunResult;
    let seconds: number;

    beforeAll(async () => {
        local = await TestStack.create({ files: FILES, stack: "local", env: ENV });
        const dir = local.dir;
        const env = { ...ENV, PULUMI_BACKEND_URL: `file://${local.backendDir}` };
        // The example ACP stacks need a cluster; this fleet is the local-role ones.
        for (const s of ["hub", "site-a"]) await fs.rm(path.join(dir, `stacks/Pulumi.${s}.yaml`));
        await fs.writeFile(path.join(dir, "stacks/Pulumi.edge.yaml"), stackFile("edge", "  image-factory:images:\n    select: [base]\n"));
        await fs.writeFile(path.join(dir, "stacks/Pulumi.broken.yaml"), stackFile("broken", "  image-factory:images:\n    select: [no-such-image]\n"));
        for (const s of ["edge", "broken"]) await run("bash", [path.join(dir, "scripts/pulumi.sh"), "--cwd", dir, "stack", "init", "--stack", s], { env });
        // What `npm run up` writes for the local S3 server (infra/local-secrets.ts); a preview never calls it.
        await fs.mkdir(path.join(dir, ".local/secrets"), { recursive: true });
        await fs.writeFile(path.join(dir, ".local/secrets/local.json"), JSON.stringify({ s3AccessKey: "e2e-access", s3SecretKey: "e2e-secret-9d1f" }), { mode: 0o600 });

        const started = Date.now();
        result = await run("node", ["-r", "ts-node/register/transpile-only", "scripts/preview.ts", "--all", "--summary-only"], { cwd: dir, env, okCodes: [0, 1], timeoutMs: 10 * 60_000 });
        seconds = (Date.now() - started) / 1000;
        console.log(`  fleet preview of 3 stacks in ${seconds.toFixed(1)}s`);
    });
    afterAll(async () => local?.cleanup());

    it("lists every site with its verdict and exits 1 because one failed", () => {
        expect(result.exitCode, result.stderr).toBe(1);
        expect(result.stdout).toMatch(/^## image-factory fleet preview \(3 stacks\)\n\n- `broken`: \*\*preview failed\*\* in \d+s\n- `edge`: previewed in \d+s\n- `local`: previewed in \d+s\n/m);
    });

    it("reports progress per stack on stderr", () => {
        for (const s of ["broken", "edge", "local"]) {
            expect(result.stderr).toContain(`[preview] ${s}: started`);
            expect(result.stderr).toMatch(new RegExp(`\\[preview\\] ${s}: ${s === "broken" ? "failed" : "done"} in \\d+s`));
        }
    });

    it("summarises each previewed site: its images, tags, disks and boot artifact sets", () => {
        const section = (s: string) => result.stdout.slice(result.stdout.indexOf(`### image-factory preview: stack \`${s}\``)).split(/\n### /)[0];
        const edge = section("edge");
        expect(edge).toContain("**Images that rebuild (1)**\n- `base`: new image");
        expect(edge).toContain("- `127.0.0.1:5999/edge/base`: 1.0.0, latest → the new tested build");
        expect(edge).toContain("**Disks that are remade (0)**");
        const local = section("local");
        for (const image of ["base", "httpd", "homepage", "database"]) expect(local).toContain(`- \`${image}\`: new image`);
        expect(local).toContain("- `127.0.0.1:5000/demo/homepage`: 1.0.0, latest → the new tested build");
        expect(local).toContain("**Disks that are remade (1)**\n- `demo`: new disk");
        expect(local).toContain("**Boot artifact sets that are remade (1)**\n- `edge-node`: new set");
        expect(result.stdout).not.toContain("Policy failures");
    });

    it("the broken stack shows the program's error, naming the bad key, not a partial summary", () => {
        const broken = result.stdout.slice(result.stdout.indexOf("### image-factory preview: stack `broken` — failed"));
        expect(broken).toMatch(/^### image-factory preview: stack `broken` — failed\n\nIts last lines:\n\n```\n[\s\S]*image-factory:images\.select[\s\S]*no-such-image[\s\S]*\n```/);
        expect(broken.split("### ")[1]).not.toContain("Images that rebuild");
        expect(result.stdout).not.toContain("e2e-secret-9d1f");
    });
});
