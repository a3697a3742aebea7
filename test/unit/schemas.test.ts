// The published JSON Schemas (schemas/) are generated from the schemas the
// program validates with; they must be current, and must accept every catalog
// file and stack file in the repository, which each point their editor at them.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { schemaFiles } from "../../scripts/schemas";

const ROOT = path.resolve(__dirname, "../..");
const yamlFiles = (dir: string) =>
    readdirSync(path.join(ROOT, dir))
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => `${dir}/${f}`);
const published = (name: string) => JSON.parse(readFileSync(path.join(ROOT, "schemas", name), "utf8"));
const validator = (name: string) => new Ajv({ allErrors: true, strict: false }).compile(published(name));

describe("published JSON Schemas", () => {
    it("are up to date (run `npm run schemas`)", () => {
        for (const [name, text] of Object.entries(schemaFiles())) expect(readFileSync(path.join(ROOT, "schemas", name), "utf8"), `schemas/${name}`).toBe(text);
    });

    const cases: Array<[string, string, string[]]> = [
        ["image.schema.json", "images", yamlFiles("images")],
        ["stack-config.schema.json", "stacks", yamlFiles("stacks")],
    ];
    describe.each(cases)("%s", (schema, dir, files) => {
        it(`finds files in ${dir}/`, () => expect(files.length).toBeGreaterThan(0));
        it.each(files)("validates %s, which names it on its first line", (file) => {
            const text = readFileSync(path.join(ROOT, file), "utf8");
            expect(text.split("\n")[0]).toBe(`# yaml-language-server: $schema=../schemas/${schema}`);
            const check = validator(schema);
            expect(check(parse(text)), JSON.stringify(check.errors, null, 2)).toBe(true);
        });
    });

    it("reject what the program rejects: an unknown key, a bad pattern, a plain-text secret", () => {
        const image = validator("image.schema.json");
        expect(image({ name: "a", version: "1", pakages: [] })).toBe(false);
        expect(image({ name: "a", version: "1", packages: ["vim; rm -rf /"] })).toBe(false);
        expect(image({ name: "a", version: "1", tests: [{ name: "t", run: ["true"], file: "/x" }] })).toBe(false);
        const stack = validator("stack-config.schema.json");
        const base = { "image-factory:site": { name: "a", role: "local" }, "image-factory:registry": { url: "127.0.0.1:5000" } };
        expect(stack({ config: base })).toBe(true);
        expect(stack({ config: { ...base, "aws:region": "us-east-1" } })).toBe(true);
        expect(stack({ config: { ...base, "image-factory:registy": {} } })).toBe(false);
        expect(stack({ config: { ...base, "image-factory:registryPassword": "plain" } })).toBe(false);
        expect(stack({ config: { ...base, "image-factory:registryPassword": { secure: "v1:abc" } } })).toBe(true);
    });
});
