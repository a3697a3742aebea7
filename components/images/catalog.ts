// The image catalog: one YAML file per image (images/*.yaml). Loading validates
// every file and reports every problem at once, each with its file and key,
// before any resource is registered. The result is a graph in build order.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, type Stats } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { ValidationProblems, validate } from "../schema";
import { type FileEntry, ImageFile } from "./schema";
import { FactoryError } from "../errors";

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

/** How an image boots (catalog key `boot`); children inherit their ancestors'. */
export interface BootSpec {
    /** Kernel package, installed with initramfs-tools: the image then carries /boot/vmlinuz-* and its initrd. */
    kernel?: string;
    /** Modules the initramfs carries and loads at boot, beside the kernel's own choice. */
    initramfsModules: string[];
    /** Boot-test the image before release (default: true when it or an ancestor has a kernel). */
    test?: boolean;
    /** Time limit for one boot to its default target (default: the stack's image-factory:boot.timeoutSeconds). */
    timeoutSeconds?: number;
}

export interface ImageDefinition {
    name: string;
    version: string;
    description?: string;
    parent?: string;
    source?: Source;
    /** A root image's refresh policy: rebuilt from fresh packages every this many seconds. */
    refresh?: { everySeconds: number };
    packages: string[];
    files: FileSpec[];
    users: UserSpec[];
    units: { enable: string[]; disable: string[] };
    labels: Record<string, string>;
    tests: TestSpec[];
    boot?: BootSpec;
    /** Catalog-relative file the definition came from. */
    file: string;
}

export interface Catalog {
    /** Absolute path of the catalog folder. */
    dir: string;
    /**
     * The bytes of every source file read so far, by catalog-relative path: each
     * file is read once (readCatalogFile), and builds, hashes and recipes all use
     * these bytes, never the file on disk again.
     */
    sources: Map<string, Buffer>;
    images: Map<string, ImageDefinition>;
    /** Image names, parents before children. */
    order: string[];
}

export class CatalogError extends FactoryError {
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
 * path, and a source that is a regular file inside the catalog folder (`check`
 * reads it, once, and says what is wrong with it). Shared by catalog files and
 * site customizations.
 */
export function checkFiles(files: FileEntry[] | undefined, key: string, check: SourceCheck, problems: ValidationProblems, failed: (key: string) => boolean): void {
    for (const [i, f] of (files ?? []).entries()) {
        const k = `${key}[${i}]`;
        if (failed(k)) continue;
        if (f.path.split("/").includes("..")) problems.add(`${k}.path`, `${JSON.stringify(f.path)} must not contain \`..\``);
        if (f.source === undefined) continue;
        const bad = check(f.source);
        if (bad) problems.add(`${k}.source`, `${JSON.stringify(f.source)} ${bad}`);
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
function parseImage(problems: ValidationProblems, file: string, text: string, check: SourceCheck): ImageDefinition | undefined {
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
    if (o.refresh !== undefined && o.source === undefined) problems.add("refresh", "applies to a root image (one with `source`); a child is rebuilt when its parent is");
    checkFiles(o.files, "files", check, problems, failed);
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
        refresh: o.refresh && { everySeconds: Number.parseInt(o.refresh.every, 10) * (o.refresh.every.endsWith("d") ? 86_400 : 3600) },
        packages: o.packages ?? [],
        files: (o.files ?? []).map(fileSpec),
        users: (o.users ?? []).map((u) => ({ name: u.name, groups: u.groups ?? [], sshKeys: u.sshKeys ?? [], shell: u.shell ?? "/bin/bash" })),
        units: { enable: o.units?.enable ?? [], disable: o.units?.disable ?? [] },
        labels: o.labels ?? {},
        tests: (o.tests ?? []).map(testSpec),
        boot: o.boot && { kernel: o.boot.kernel, initramfsModules: o.boot.initramfsModules ?? [], test: o.boot.test, timeoutSeconds: o.boot.timeoutSeconds },
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

/**
 * Builds a catalog from file texts. `read` returns a catalog-relative source
 * file's bytes, or throws with what is wrong with it; each file is read once.
 */
export function parseCatalog(dir: string, files: Array<{ file: string; text: string }>, read: (rel: string) => Buffer): Catalog {
    const problems: string[] = [];
    const images = new Map<string, ImageDefinition>();
    const sources = new Map<string, Buffer>();
    const check: SourceCheck = (rel) => {
        const lexical = checkSourcePath(rel);
        if (lexical) return lexical;
        if (sources.has(rel)) return undefined;
        try {
            sources.set(rel, read(rel));
            return undefined;
        } catch (e) {
            return (e as Error).message;
        }
    };
    for (const { file, text } of files) {
        const p = fileProblems(file);
        const img = parseImage(p, file, text, check);
        problems.push(...p.list);
        if (!img) continue;
        const other = images.get(img.name);
        if (other) problems.push(`${file}: name: ${JSON.stringify(img.name)} is already defined in ${other.file}`);
        else images.set(img.name, img);
    }
    if (files.length === 0) problems.push(`${dir}: no image definitions (*.yaml) found`);
    const order = graph(images, problems);
    if (problems.length) throw new CatalogError(problems);
    return { dir, sources, images, order };
}

/** Catalog file names: they show up in Containerfiles and logs, so nothing but a plain name. */
const CATALOG_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/;

/** Reads images/*.yaml from `dir` (each file read the safe way, as sources are) and validates them. */
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
    const problems: string[] = [];
    const files: Array<{ file: string; text: string }> = [];
    const read = new Map<string, Buffer>();
    for (const f of names) {
        if (!CATALOG_FILE.test(f)) {
            problems.push(`${rel}/${JSON.stringify(f).slice(1, -1)}: not a valid catalog file name (letters, digits, . _ - and .yaml)`);
            continue;
        }
        try {
            read.set(f, readCatalogFile(dir, f));
            files.push({ file: `${rel}/${f}`, text: read.get(f)!.toString("utf8") });
        } catch (e) {
            problems.push(`${rel}/${f}: ${(e as Error).message}`);
        }
    }
    if (problems.length) throw new CatalogError(problems);
    const catalog = parseCatalog(dir, files, (source) => readCatalogFile(dir, source));
    for (const [f, bytes] of read) catalog.sources.set(f, bytes);
    return catalog;
}

/** What is wrong with a catalog-relative source path (read once and kept), or undefined. */
type SourceCheck = (rel: string) => string | undefined;

/** A catalog file's bytes: the ones read when the catalog was loaded, else read now (once) and kept. */
export function catalogSource(catalog: Catalog, rel: string): Buffer {
    const lexical = checkSourcePath(rel);
    if (lexical) throw new Error(lexical);
    let bytes = catalog.sources.get(rel);
    if (!bytes) {
        bytes = readCatalogFile(catalog.dir, rel);
        catalog.sources.set(rel, bytes);
    }
    return bytes;
}

/** The most a catalog source file may hold: they are configuration, not payloads. */
export const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

const kind = (st: Stats) =>
    st.isDirectory() ? "a folder" : st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : st.isCharacterDevice() ? "a character device" : st.isBlockDevice() ? "a block device" : "not a regular file";

/**
 * Reads a file of the catalog folder, the one way every catalog file is read
 * (pull requests change these files, so they are untrusted): every component of
 * the path is looked at without following links (no symbolic link anywhere,
 * folders on the way, a regular file at the end with a single hard link); the
 * file is opened once without following links and without blocking; the open
 * descriptor must be the file that was checked (same device and inode) and its
 * real path (/proc/self/fd) must lie inside the catalog folder; its bytes are
 * read once, from that descriptor. Throws with the rule the file broke.
 * `beforeOpen` lets tests change the file between the check and the read.
 */
export function readCatalogFile(dir: string, rel: string, beforeOpen?: () => void): Buffer {
    const lexical = checkSourcePath(rel);
    if (lexical) throw new Error(lexical);
    const root = realpathSync(dir);
    const parts = rel.split("/").filter((part) => part !== "" && part !== ".");
    if (parts.length === 0) throw new Error("is not a file");
    let full = root;
    let checked: Stats | undefined;
    for (const [i, part] of parts.entries()) {
        full = path.join(full, part);
        const shown = parts.slice(0, i + 1).join("/");
        const last = i === parts.length - 1;
        try {
            checked = lstatSync(full);
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") throw new Error("does not exist in the catalog folder");
            throw new Error(`cannot be read (${(e as NodeJS.ErrnoException).code})`);
        }
        if (checked.isSymbolicLink()) throw new Error(`${last ? "is" : `goes through ${shown}, which is`} a symbolic link; catalog files must be regular files inside the catalog folder`);
        if (!last && !checked.isDirectory()) throw new Error(`goes through ${shown}, which is not a folder`);
        if (last && !checked.isFile()) throw new Error(`is ${kind(checked)}; catalog files must be regular files`);
    }
    if (checked!.nlink > 1) throw new Error(`has ${checked!.nlink} hard links; a hard link can reach a file outside the catalog folder, so catalog files must have one`);
    if (checked!.size > MAX_SOURCE_BYTES) throw new Error(`is ${checked!.size} bytes; catalog files hold at most ${MAX_SOURCE_BYTES}`);
    beforeOpen?.();
    let fd: number;
    try {
        fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(code === "ELOOP" ? "changed between check and read (it is a symbolic link now)" : `cannot be opened (${code})`);
    }
    try {
        const st = fstatSync(fd);
        if (st.dev !== checked!.dev || st.ino !== checked!.ino || !st.isFile()) throw new Error("changed between check and read (a different file is there now)");
        const real = readlinkSync(`/proc/self/fd/${fd}`);
        if (!real.startsWith(root + path.sep)) throw new Error("resolves outside the catalog folder");
        const bytes = Buffer.alloc(st.size);
        let got = 0;
        while (got < bytes.length) {
            const n = readSync(fd, bytes, got, bytes.length - got, got);
            if (n === 0) break;
            got += n;
        }
        if (got !== st.size || readSync(fd, Buffer.alloc(1), 0, 1, got) !== 0) throw new Error("changed while it was read");
        return bytes;
    } finally {
        closeSync(fd);
    }
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
