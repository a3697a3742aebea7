// The docs a newcomer reads: README stays a short entry point, and every relative link
// in README, CONTRIBUTING and docs/ reaches a file (and a heading, when it names one).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const docs = [
    "README.md",
    "CONTRIBUTING.md",
    ...readdirSync(path.join(root, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`),
];
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) =>
    heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-");

/** The anchors of a markdown file's headings (outside code blocks). */
const anchors = (text: string) => {
    const found = new Set<string>();
    let fenced = false;
    for (const line of text.split("\n")) {
        if (line.startsWith("```")) fenced = !fenced;
        const m = !fenced && /^#{1,6} (.+)$/.exec(line);
        if (m) found.add(slug(m[1]));
    }
    return found;
};

/** Markdown links `[text](target)` outside code blocks and inline code. */
const links = (text: string) => {
    const found: string[] = [];
    let fenced = false;
    for (const line of text.split("\n")) {
        if (line.startsWith("```")) fenced = !fenced;
        if (fenced) continue;
        for (const m of line.replace(/`[^`]*`/g, "").matchAll(/\]\(([^)\s]+)\)/g)) found.push(m[1]);
    }
    return found;
};

describe("docs", () => {
    it("README is a short entry point (under 200 lines)", () => {
        expect(read("README.md").split("\n").length).toBeLessThan(200);
    });

    it.each(docs)("%s: every relative link reaches a file, and the heading it names", (file) => {
        const broken: string[] = [];
        for (const link of links(read(file))) {
            if (/^[a-z]+:/.test(link)) continue; // https:, mailto:
            const [target, anchor] = link.split("#");
            const resolved = target ? path.join(path.dirname(file), target) : file;
            if (!existsSync(path.join(root, resolved))) {
                broken.push(`${link}: no file ${resolved}`);
            } else if (anchor && resolved.endsWith(".md") && !anchors(read(resolved)).has(anchor)) {
                broken.push(`${link}: ${resolved} has no heading #${anchor}`);
            }
        }
        expect(broken).toEqual([]);
    });

    it("finds a broken link and a missing heading (the checker itself)", () => {
        expect(links("see [a](docs/nowhere.md) and `[b](x.md)` and [c](https://example.com)")).toEqual(["docs/nowhere.md", "https://example.com"]);
        expect(anchors("# The project's Pulumi defaults\n```\n# not a heading\n```\n")).toEqual(new Set(["the-projects-pulumi-defaults"]));
    });
});
