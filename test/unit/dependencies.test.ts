// The pins the foundation promises. A nested second copy of @pulumi/pulumi
// makes mocks and dynamic resources register against the wrong runtime.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../components/exec";

const root = path.resolve(__dirname, "../..");

describe("installed dependencies", () => {
    it("hold exactly one @pulumi/pulumi, at 3.248.0, and the pinned provider SDKs", async () => {
        const out = await run("npm", ["ls", "@pulumi/pulumi", "@pulumi/command", "--all", "--json"], { cwd: root, timeoutMs: 120_000 });
        const versions = new Map<string, Set<string>>();
        const walk = (deps: Record<string, { version?: string; dependencies?: object }> | undefined) => {
            for (const [name, dep] of Object.entries(deps ?? {})) {
                if (dep.version) versions.set(name, (versions.get(name) ?? new Set()).add(dep.version));
                walk(dep.dependencies as typeof deps);
            }
        };
        walk(JSON.parse(out.stdout).dependencies);
        expect([...(versions.get("@pulumi/pulumi") ?? [])]).toEqual(["3.248.0"]);
        expect([...(versions.get("@pulumi/command") ?? [])]).toEqual(["1.2.1"]);
        // npm ls dedupes its listing; the folders on disk are the truth.
        const copies = (await run("find", ["node_modules", "components/node_modules", "-path", "*/@pulumi/pulumi/package.json", "-not", "-path", "*/@pulumi/pulumi/*/*"], { cwd: root, okCodes: [0, 1] })).stdout.trim().split("\n").filter(Boolean);
        expect(copies).toEqual(["node_modules/@pulumi/pulumi/package.json"]);
    });

    // The engine starts the plugin version an SDK names in its package.json ("pulumi": {"version"}),
    // and with plugin downloads off it must be installed exactly: scripts/toolchain.sh builds these.
    it("the SDKs ask for exactly the plugin versions the toolchain builds and installs", () => {
        const lib = readFileSync(path.join(root, "scripts/lib.sh"), "utf8");
        const pinned = (name: string) => {
            const m = new RegExp(`^${name}="([^"]+)"$`, "m").exec(lib);
            if (!m) throw new Error(`scripts/lib.sh does not set ${name}`);
            return m[1];
        };
        const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
        for (const [sdk, plugin, variable] of [
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
