import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { changedKeys, diffOn, isUnknown, providerFor, UNKNOWN } from "../../components/dynamic";
import { VmDisk } from "../../components/images/resources";
import { LocalFile } from "../../components/storage/local-file";
import { capture, isSecretValue } from "../support/pulumi-mocks";

describe("providerFor", () => {
    it("serializes to self-contained code that names the implementation module", async () => {
        // The engine stores this text in state and runs it in its provider host.
        const sf = await pulumi.runtime.serializeFunction(() => providerFor("@image-factory/components/storage/local-file.provider"));
        expect(sf.text).toContain('"@image-factory/components/storage/local-file.provider"');
        expect(sf.text).toContain("require(moduleId)");
        // Nothing from the test runner's module graph was captured.
        expect(sf.text).not.toMatch(/__vi_|vitest|import\.meta/);
    });

    it("loads the implementation by package name when a method is called", async () => {
        const p = providerFor("@image-factory/components/storage/local-file.provider");
        const r = await p.check!({}, { path: "relative/path", content: "x" });
        expect(r.failures).toEqual([{ property: "path", reason: 'path must be an absolute path, got "relative/path"' }]);
    });
});

describe("unknown values and changed keys", () => {
    it("finds unknowns anywhere in a value", () => {
        expect(isUnknown(UNKNOWN)).toBe(true);
        expect(isUnknown({ a: [1, { b: UNKNOWN }] })).toBe(true);
        expect(isUnknown({ a: [1, { b: "x" }] })).toBe(false);
    });
    it("names changed keys, counting unknown new values as changes", () => {
        expect(changedKeys({ a: 1, b: [1], c: "x" }, { a: 1, b: [2], c: UNKNOWN, __provider: "p" })).toEqual(["b", "c"]);
        expect(changedKeys({ a: 1 }, { a: 1, d: 2 }, ["a"])).toEqual([]);
    });
});

describe("diffOn", () => {
    const diff = diffOn(["path"], ["content", "mode"]);
    it("replaces on its replace keys, updates on the others, ignores the rest", async () => {
        const olds = { path: "/a", content: "x", mode: 0o644, note: 1 };
        expect(await diff("id", olds, { ...olds, note: 2 })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
        expect(await diff("id", olds, { ...olds, mode: 0o600 })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
        expect(await diff("id", olds, { ...olds, path: "/b", content: UNKNOWN })).toEqual({ changes: true, replaces: ["path"], deleteBeforeReplace: false });
    });
});

describe("FactoryResource", () => {
    it("registers its type under image-factory with its secret inputs wrapped as secrets", async () => {
        const { resources } = await capture((opts) => {
            const auth = { username: "u", password: "p" };
            new VmDisk("d", { image: "base", ref: "r/base@sha256:1", auth, dir: "/d", size: "2G", format: "qcow2", storage: "/s", cacheDir: "/c" } as never, opts);
            new LocalFile("f", { path: "/x", content: "y" }, opts);
        });
        const disk = resources.get("d")!;
        expect(disk.type).toBe("pulumi-nodejs:dynamic/image-factory:VmDisk");
        expect(isSecretValue(disk.inputs.auth)).toBe(true);
        expect(disk.inputs.image).toBe("base");
        const file = resources.get("f")!;
        expect(isSecretValue(file.inputs.content)).toBe(false);
        expect(file.inputs.__provider).toContain("@image-factory/components/storage/local-file.provider");
    });
});

describe("every provider module that the program names", () => {
    const root = path.resolve(__dirname, "../..");
    /** Every provider module in the program's sources (`providerFor("<module>")` or a resource spec's `provider: "<module>"`), with the file that names it. */
    const named = (dir: string): [string, string][] =>
        readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e): [string, string][] => {
            const rel = path.join(dir, e.name);
            if (e.isDirectory()) return e.name === "node_modules" ? [] : named(rel);
            if (!e.name.endsWith(".ts")) return [];
            return [...readFileSync(path.join(root, rel), "utf8").matchAll(/(?:providerFor\(|provider: )"([^"]+)"/g)].map((m): [string, string] => [m[1], rel]);
        });
    const modules = [...named("components"), ...named("infra")];

    it("finds them (the scan itself works)", () => {
        expect(modules.length).toBeGreaterThanOrEqual(14);
    });

    it.each(modules)("%s (named in %s) is reachable from node_modules and exports a provider", async (moduleId) => {
        // The engine's provider host resolves the name from node_modules, not from the test runner's graph.
        expect(moduleId).toMatch(/^@image-factory\/components\//);
        expect(existsSync(path.join(root, "node_modules", `${moduleId}.ts`)), `node_modules/${moduleId}.ts`).toBe(true);
        const { provider } = (await import(moduleId)) as { provider?: Record<string, unknown> };
        for (const method of ["check", "diff", "create", "delete"]) expect(typeof provider?.[method], `${moduleId} provider.${method}`).toBe("function");
    });
});
