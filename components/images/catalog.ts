// The image catalog: one YAML file per image (images/*.yaml). Loading validates
// every file and reports every problem at once, each with its file and key,
// before any resource is registered. The result is a graph in build order.
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { ValidationProblems, validate } from "../schema";
import { type FileEntry, ImageFile } from "./schema";

export type PackageManager = "apt" | "dnf";

export interface FileSpec {
    /** Absolute path in the image. */
    path: string;
    /** Inline content, or… */
    content?: string;
    /** …a file relative to the catalog folder. */
    source?: string;
    /** Octal, e.g. "0644". */
    mode: string;
    /** user:group */
    owner: string;
}

export interface UserSpec {
    name: string;
    groups: string[];
    sshKeys: string[];
    shell: string;
}

export type TestSpec =
    | { name: string; kind: "command"; run: string[]; exitCode: number; stdoutContains?: string }
    | { name: string; kind: "file"; path: string; contains?: string; mode?: string }
    | {
          name: string;
          kind: "service";
          start: string[];
          timeoutSeconds: number;
          http?: { port: number; path: string; status: number; contains?: string };
          tcp?: { port: number };
      };

export type Source =
    | {
          kind: "rootfs";
          distro: "debian";
          suite: string;
          mirror: string;
          variant: "minbase" | "apt" | "required" | "important" | "standard";
          packages: string[];
      }
    | { kind: "image"; ref: string; packageManager: PackageManager };

export interface ImageDefinition {
    name: string;
    version: string;
    description?: string;
    parent?: string;
    source?: Source;
    packages: string[];
    files: FileSpec[];
    users: UserSpec[];
    units: { enable: string[]; disable: string[] };
    labels: Record<string, string>;
    tests: TestSpec[];
    /** Catalog-relative file the definition came from. */
    file: string;
}

export interface Catalog {
    /** Absolute path of the catalog folder. */
    dir: string;
    images: Map<string, ImageDefinition>;
    /** Image names, parents before children. */
    order: string[];
}

export class CatalogError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid image catalog:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "CatalogError";
    }
}

/** Problems with one catalog file's keys, as "<file>: <key>: <message>". */
const fileProblems = (file: string) => new ValidationProblems((key) => `${file}: ${key ? `${key}: ` : ""}`);

/** A catalog-relative file reference must stay inside the catalog folder. */
export function checkSourcePath(source: string): string | undefined {
    if (path.isAbsolute(source)) return "must be relative to the catalog folder, not an absolute path";
    const norm = path.posix.normalize(source);
    if (norm.startsWith("../") || norm === ".." || source.split(/[\\/]/).includes("..")) return "must stay inside the catalog folder (no `..`)";
    return undefined;
}

/**
 * The rules for file entries that a schema cannot say: no `..` in the image
 * path, and a source that stays inside the catalog folder and exists. Shared by
 * catalog files and site customizations.
 */
export function checkFiles(files: FileEntry[] | undefined, key: string, exists: (rel: string) => boolean, problems: ValidationProblems, failed: (key: string) => boolean): void {
    for (const [i, f] of (files ?? []).entries()) {
        const k = `${key}[${i}]`;
        if (failed(k)) continue;
        if (f.path.split("/").includes("..")) problems.add(`${k}.path`, `${JSON.stringify(f.path)} must not contain \`..\``);
        if (f.source === undefined) continue;
        const bad = checkSourcePath(f.source);
        if (bad) problems.add(`${k}.source`, `${JSON.stringify(f.source)} ${bad}`);
        else if (!exists(f.source)) problems.add(`${k}.source`, `${JSON.stringify(f.source)} does not exist in the catalog folder`);
    }
}

/** A file entry with its defaults, owner as user:group. */
export function fileSpec(f: FileEntry): FileSpec {
    const owner = f.owner ?? "root:root";
    return { path: f.path, content: f.content, source: f.source, mode: (f.mode ?? "0644").padStart(4, "0"), owner: owner.includes(":") ? owner : `${owner}:${owner}` };
}

/** YAML's empty values (`key:`) mean "not set". */
function dropNulls(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(dropNulls);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).flatMap(([k, inner]) => (inner === null ? [] : [[k, dropNulls(inner)]])));
    return v;
}

/** Parses one catalog file's text. Problems go to `problems`; returns the image when it is valid. */
function parseImage(problems: ValidationProblems, file: string, text: string, exists: (rel: string) => boolean): ImageDefinition | undefined {
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length) {
        for (const e of doc.errors) {
            const pos = e.linePos?.[0];
            problems.add("", `YAML error${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}: ${e.message.split("\n")[0]}`);
        }
        return undefined;
    }
    const input = dropNulls(doc.toJS());
    if (!input || typeof input !== "object" || Array.isArray(input)) {
        problems.add("", "must be a mapping with at least name and version");
        return undefined;
    }
    const { value: o, ok, failed } = validate(ImageFile, input, problems, { coerceScalars: true });
    // The rules a schema cannot say.
    if (o.parent !== undefined && o.source !== undefined) problems.add("", "has both `parent` and `source`; an image is built on one of them");
    if (o.parent === undefined && o.source === undefined) problems.add("", "needs `parent` (another catalog image) or `source` (rootfs or image)");
    checkFiles(o.files, "files", exists, problems, failed);
    const seen = new Set<string>();
    for (const [i, t] of (o.tests ?? []).entries()) {
        if (typeof t.name !== "string") continue;
        if (seen.has(t.name)) problems.add(`tests[${i}].name`, `duplicate test name ${JSON.stringify(t.name)}`);
        seen.add(t.name);
    }
    if (!ok || problems.list.length) return undefined;
    return {
        name: o.name,
        version: o.version,
        description: o.description,
        parent: o.parent,
        source: o.source && sourceOf(o.source),
        packages: o.packages ?? [],
        files: (o.files ?? []).map(fileSpec),
        users: (o.users ?? []).map((u) => ({ name: u.name, groups: u.groups ?? [], sshKeys: u.sshKeys ?? [], shell: u.shell ?? "/bin/bash" })),
        units: { enable: o.units?.enable ?? [], disable: o.units?.disable ?? [] },
        labels: o.labels ?? {},
        tests: (o.tests ?? []).map(testSpec),
        file,
    };
}

function sourceOf(s: NonNullable<ImageFile["source"]>): Source {
    if (s.rootfs) {
        const r = s.rootfs;
        return { kind: "rootfs", distro: "debian", suite: r.suite, mirror: r.mirror ?? "", variant: r.variant ?? "minbase", packages: r.packages ?? [] };
    }
    const img = typeof s.image === "string" ? { ref: s.image } : s.image!;
    return { kind: "image", ref: img.ref, packageManager: img.packageManager ?? "dnf" };
}

function testSpec(t: NonNullable<ImageFile["tests"]>[number]): TestSpec {
    if (t.run) return { name: t.name, kind: "command", run: t.run, exitCode: t.exitCode ?? 0, stdoutContains: t.stdoutContains };
    if (t.file) return { name: t.name, kind: "file", path: t.file, contains: t.contains, mode: t.mode };
    const s = t.service!;
    return {
        name: t.name,
        kind: "service",
        start: s.start,
        timeoutSeconds: s.timeoutSeconds ?? 60,
        http: s.http && { port: s.http.port ?? 80, path: s.http.path ?? "/", status: s.http.status ?? 200, contains: s.http.contains },
        tcp: s.tcp && { port: s.tcp.port },
    };
}

/** Orders images parents-first; reports missing parents and cycles. */
function graph(images: Map<string, ImageDefinition>, problems: string[]): string[] {
    const order: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (name: string, chain: string[]): void => {
        const img = images.get(name)!;
        if (state.get(name) === "done") return;
        if (state.get(name) === "visiting") {
            const cycle = [...chain.slice(chain.indexOf(name)), name];
            problems.push(`${img.file}: parent: cycle ${cycle.join(" → ")}`);
            return;
        }
        state.set(name, "visiting");
        if (img.parent) {
            if (!images.has(img.parent)) problems.push(`${img.file}: parent: ${JSON.stringify(img.parent)} is not in the catalog`);
            else visit(img.parent, [...chain, name]);
        }
        state.set(name, "done");
        order.push(name);
    };
    for (const name of [...images.keys()].sort()) visit(name, []);
    return order;
}

/** Builds a catalog from file texts; `exists` tells whether a catalog-relative source file exists. */
export function parseCatalog(dir: string, files: Array<{ file: string; text: string }>, exists: (rel: string) => boolean): Catalog {
    const problems: string[] = [];
    const images = new Map<string, ImageDefinition>();
    for (const { file, text } of files) {
        const p = fileProblems(file);
        const img = parseImage(p, file, text, exists);
        problems.push(...p.list);
        if (!img) continue;
        const other = images.get(img.name);
        if (other) problems.push(`${file}: name: ${JSON.stringify(img.name)} is already defined in ${other.file}`);
        else images.set(img.name, img);
    }
    if (files.length === 0) problems.push(`${dir}: no image definitions (*.yaml) found`);
    const order = graph(images, problems);
    if (problems.length) throw new CatalogError(problems);
    return { dir, images, order };
}

/** Reads images/*.yaml from `dir` and validates them. */
export function loadCatalog(dir: string): Catalog {
    let names: string[];
    try {
        names = readdirSync(dir)
            .filter((f) => /\.ya?ml$/.test(f))
            .sort();
    } catch (e) {
        throw new CatalogError([`${dir}: cannot read the catalog folder (${(e as Error).message})`]);
    }
    const rel = path.basename(dir);
    const files = names.map((f) => ({ file: `${rel}/${f}`, text: readFileSync(path.join(dir, f), "utf8") }));
    return parseCatalog(dir, files, (source) => {
        try {
            return statSync(path.join(dir, source)).isFile();
        } catch {
            return false;
        }
    });
}

/** The image and its ancestors, root first. */
export function lineage(catalog: Catalog, name: string): ImageDefinition[] {
    const chain: ImageDefinition[] = [];
    for (let img = catalog.images.get(name); img; img = img.parent ? catalog.images.get(img.parent) : undefined) chain.unshift(img);
    return chain;
}

/** The selected images with their ancestors, in build order. Unknown names are errors. */
export function selectImages(catalog: Catalog, select: string[] | undefined, key = "images.select"): string[] {
    if (!select) return catalog.order;
    const unknown = select.filter((n) => !catalog.images.has(n));
    if (unknown.length) throw new CatalogError(unknown.map((n) => `${key}: ${JSON.stringify(n)} is not in the catalog (known: ${catalog.order.join(", ")})`));
    const wanted = new Set(select.flatMap((n) => lineage(catalog, n).map((i) => i.name)));
    return catalog.order.filter((n) => wanted.has(n));
}
