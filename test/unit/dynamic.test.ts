import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { changedKeys, isUnknown, providerFor, UNKNOWN } from "../../components/dynamic";

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

describe("every provider module that providerFor names", () => {
    const root = path.resolve(__dirname, "../..");
    /** Every `providerFor("<module>")` in the program's sources, with the file that names it. */
    const named = (dir: string): [string, string][] =>
        readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e): [string, string][] => {
            const rel = path.join(dir, e.name);
            if (e.isDirectory()) return e.name === "node_modules" ? [] : named(rel);
            if (!e.name.endsWith(".ts")) return [];
            return [...readFileSync(path.join(root, rel), "utf8").matchAll(/providerFor\("([^"]+)"\)/g)].map((m): [string, string] => [m[1], rel]);
        });
    const modules = [...named("components"), ...named("infra")];

    it("finds them (the scan itself works)", () => {
        expect(modules.length).toBeGreaterThanOrEqual(9);
    });

    it.each(modules)("%s (named in %s) is reachable from node_modules and exports a provider", async (moduleId) => {
        // The engine's provider host resolves the name from node_modules, not from the test runner's graph.
        expect(moduleId).toMatch(/^@image-factory\/components\//);
        expect(existsSync(path.join(root, "node_modules", `${moduleId}.ts`)), `node_modules/${moduleId}.ts`).toBe(true);
        const { provider } = (await import(moduleId)) as { provider?: Record<string, unknown> };
        for (const method of ["check", "diff", "create", "delete"]) expect(typeof provider?.[method], `${moduleId} provider.${method}`).toBe("function");
    });
});
