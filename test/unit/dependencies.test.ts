// The pins the foundation promises. A nested second copy of @pulumi/pulumi
// makes mocks and dynamic resources register against the wrong runtime.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../components/exec";

const root = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
/** The one place the Pulumi version is pinned; everything else must follow it. */
const pulumiVersion = read(".pulumi.version").trim();

describe("installed dependencies", () => {
    it("follow the one Pulumi pin (.pulumi.version): package.json, the CLI's Go module, the workflows", () => {
        expect(pulumiVersion).toMatch(/^\d+\.\d+\.\d+$/);
        const manifest = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
        expect(manifest.dependencies["@pulumi/pulumi"], "package.json pins @pulumi/pulumi to .pulumi.version").toBe(pulumiVersion);
        expect(read("scripts/toolchain/pulumi-cli/go.mod")).toMatch(new RegExp(`^require github\\.com/pulumi/pulumi/pkg/v3 v${pulumiVersion.replaceAll(".", "\\.")}$`, "m"));
        // The workflows name no version of their own: the preview runs the CLI scripts/setup.sh builds from the file.
        expect(read(".github/workflows/preview.yml")).not.toMatch(/pulumi-version: /);
        for (const file of ["scripts/lib.sh", "scripts/toolchain.sh", ".github/workflows/preview.yml", ".github/workflows/checks.yml"]) {
            expect(read(file), `${file} names a Pulumi version instead of reading .pulumi.version`).not.toMatch(/\b3\.\d{3}\.\d+\b/);
        }
        // The docs may name it, and then name the pinned one.
        const docs = ["README.md", ...readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
        for (const file of docs) {
            for (const [named] of read(file).matchAll(/\b3\.\d{3}\.\d+\b/g)) expect(named, `${file} names Pulumi ${named}, not the pinned ${pulumiVersion}`).toBe(pulumiVersion);
        }
    });

    it("hold exactly one @pulumi/pulumi, at the pinned version, and the pinned provider SDKs", async () => {
        const out = await run("npm", ["ls", "@pulumi/pulumi", "@pulumi/command", "@pulumi/kubernetes", "--all", "--json"], { cwd: root, timeoutMs: 120_000 });
        const versions = new Map<string, Set<string>>();
        const walk = (deps: Record<string, { version?: string; dependencies?: object }> | undefined) => {
            for (const [name, dep] of Object.entries(deps ?? {})) {
                if (dep.version) versions.set(name, (versions.get(name) ?? new Set()).add(dep.version));
                walk(dep.dependencies as typeof deps);
            }
        };
        walk(JSON.parse(out.stdout).dependencies);
        expect([...(versions.get("@pulumi/pulumi") ?? [])]).toEqual([pulumiVersion]);
        expect([...(versions.get("@pulumi/command") ?? [])]).toEqual(["1.2.1"]);
        expect([...(versions.get("@pulumi/kubernetes") ?? [])]).toEqual(["4.25.0"]);
        // npm ls dedupes its listing; the folders on disk are the truth.
        const copies = (await run("find", ["node_modules", "components/node_modules", "-path", "*/@pulumi/pulumi/package.json", "-not", "-path", "*/@pulumi/pulumi/*/*"], { cwd: root, okCodes: [0, 1] })).stdout.trim().split("\n").filter(Boolean);
        expect(copies).toEqual(["node_modules/@pulumi/pulumi/package.json"]);
    });

    // The engine starts the plugin version an SDK names in its package.json ("pulumi": {"version"}),
    // and with plugin downloads off it must be installed exactly: scripts/toolchain.sh builds these.
    it("the SDKs ask for exactly the plugin versions the toolchain builds and installs", () => {
        const lib = read("scripts/lib.sh");
        const pinned = (name: string) => {
            const m = new RegExp(`^${name}="([^"]+)"$`, "m").exec(lib);
            if (!m) throw new Error(`scripts/lib.sh does not set ${name}`);
            return m[1];
        };
        const manifest = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
        for (const [sdk, plugin, variable] of [
            ["@pulumi/kubernetes", "kubernetes", "KUBERNETES_PROVIDER_VERSION"],
            ["@pulumi/command", "command", "COMMAND_PROVIDER_VERSION"],
        ]) {
            const installed = JSON.parse(readFileSync(path.join(root, "node_modules", sdk, "package.json"), "utf8")) as {
                version: string;
                pulumi: { name: string; version: string };
            };
            expect(manifest.dependencies[sdk], `package.json pins ${sdk} exactly`).toBe(installed.version);
            expect(installed.pulumi.name).toBe(plugin);
            expect(installed.pulumi.version, `${sdk} ${installed.version} asks for plugin ${plugin} ${installed.pulumi.version}`).toBe(pinned(variable));
        }
    });
});
