// The image catalog: one YAML file per image (images/*.yaml). Loading validates
// every file and reports every problem at once, each with its file and key,
// before any resource is registered. The result is a graph in build order.
import { promises as fsp, readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";

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

// Names that end up in a Containerfile, a blueprint or a shell inside the image:
// strict patterns, so that nothing can smuggle in a shell metacharacter.
export const PATTERNS = {
    imageName: /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
    version: /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
    package: /^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$/,
    unit: /^[A-Za-z0-9][A-Za-z0-9:_.\\@-]{0,250}\.(service|socket|timer|target|path|mount|automount|slice)$/,
    user: /^[a-z_][a-z0-9_-]{0,31}$/,
    owner: /^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/,
    mode: /^0?[0-7]{3,4}$/,
    labelKey: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(\/[A-Za-z0-9._-]+)?$/,
    suite: /^[a-z][a-z0-9-]*$/,
    sshKey: /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( [^\n\r]*)?$/,
    imagePath: /^\/[^\0\n\r]*$/,
};
const SHELL_META = /[;&|`$<>(){}[\]*?!~#'"\\\s]/;

const TOP_KEYS = ["name", "version", "description", "parent", "source", "packages", "files", "users", "units", "labels", "tests"];

/** Collects problems as "<file>: <key>: <message>". */
class Problems {
    readonly list: string[] = [];
    constructor(private readonly file: string) {}
    add(key: string, msg: string): void {
        this.list.push(`${this.file}: ${key ? `${key}: ` : ""}${msg}`);
    }
    keys(key: string, o: Record<string, unknown>, allowed: string[]): void {
        for (const k of Object.keys(o)) if (!allowed.includes(k)) this.add(key ? `${key}.${k}` : k, `unknown key (expected one of: ${allowed.join(", ")})`);
    }
    obj(key: string, v: unknown): Record<string, unknown> | undefined {
        if (v === undefined || v === null) return undefined;
        if (typeof v !== "object" || Array.isArray(v)) {
            this.add(key, `must be a mapping, got ${describe(v)}`);
            return undefined;
        }
        return v as Record<string, unknown>;
    }
    list_(key: string, v: unknown): unknown[] {
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v)) {
            this.add(key, `must be a list, got ${describe(v)}`);
            return [];
        }
        return v;
    }
    str(key: string, v: unknown, pattern?: RegExp, what?: string): string | undefined {
        if (v === undefined || v === null) return undefined;
        if (typeof v === "number") v = String(v); // `version: 1.0` in YAML is a number
        if (typeof v !== "string") {
            this.add(key, `must be a string, got ${describe(v)}`);
            return undefined;
        }
        if (pattern && !pattern.test(v)) {
            const meta = SHELL_META.test(v) ? " (it contains a shell metacharacter or space)" : "";
            this.add(key, `${JSON.stringify(v)} is not a valid ${what ?? "value"}${meta}`);
            return undefined;
        }
        return v;
    }
    names(key: string, v: unknown, pattern: RegExp, what: string): string[] {
        return this.list_(key, v)
            .map((item, i) => this.str(`${key}[${i}]`, item, pattern, what))
            .filter((s): s is string => s !== undefined);
    }
    int(key: string, v: unknown, min: number, max: number, fallback: number): number {
        if (v === undefined || v === null) return fallback;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
            this.add(key, `must be a whole number from ${min} to ${max}, got ${describe(v)}`);
            return fallback;
        }
        return v;
    }
}

function describe(v: unknown): string {
    return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v === "object" ? "a mapping" : JSON.stringify(v);
}

/** A catalog-relative file reference must stay inside the catalog folder. */
export function checkSourcePath(source: string): string | undefined {
    if (path.isAbsolute(source)) return "must be relative to the catalog folder, not an absolute path";
    const norm = path.posix.normalize(source);
    if (norm.startsWith("../") || norm === ".." || source.split(/[\\/]/).includes("..")) return "must stay inside the catalog folder (no `..`)";
    return undefined;
}

export function parseFiles(p: Problems, key: string, v: unknown, exists: (rel: string) => boolean): FileSpec[] {
    return p.list_(key, v).flatMap((f, i) => {
        const k = `${key}[${i}]`;
        const o = p.obj(k, f);
        if (!o) return [];
        p.keys(k, o, ["path", "content", "source", "mode", "owner"]);
        const filePath = p.str(`${k}.path`, o.path, PATTERNS.imagePath, "absolute path in the image");
        if (o.path === undefined) p.add(`${k}.path`, "is required");
        else if (filePath?.split("/").includes("..")) p.add(`${k}.path`, `${JSON.stringify(filePath)} must not contain \`..\``);
        const content = p.str(`${k}.content`, o.content);
        const source = p.str(`${k}.source`, o.source);
        if ((content === undefined) === (source === undefined)) p.add(k, "needs exactly one of `content` or `source`");
        if (source !== undefined) {
            const bad = checkSourcePath(source);
            if (bad) p.add(`${k}.source`, `${JSON.stringify(source)} ${bad}`);
            else if (!exists(source)) p.add(`${k}.source`, `${JSON.stringify(source)} does not exist in the catalog folder`);
        }
        const mode = p.str(`${k}.mode`, o.mode ?? "0644", PATTERNS.mode, 'octal mode such as "0644"') ?? "0644";
        const owner = p.str(`${k}.owner`, o.owner ?? "root:root", PATTERNS.owner, "owner (user or user:group)") ?? "root:root";
        return filePath ? [{ path: filePath, content, source, mode: mode.padStart(4, "0"), owner: owner.includes(":") ? owner : `${owner}:${owner}` }] : [];
    });
}

function parseTests(p: Problems, v: unknown): TestSpec[] {
    const seen = new Set<string>();
    return p.list_("tests", v).flatMap((t, i): TestSpec[] => {
        const k = `tests[${i}]`;
        const o = p.obj(k, t);
        if (!o) return [];
        const name = p.str(`${k}.name`, o.name) ?? `test ${i + 1}`;
        if (o.name === undefined) p.add(`${k}.name`, "is required");
        if (seen.has(name)) p.add(`${k}.name`, `duplicate test name ${JSON.stringify(name)}`);
        seen.add(name);
        const kinds = ["run", "file", "service"].filter((x) => o[x] !== undefined);
        if (kinds.length !== 1) {
            p.add(k, "needs exactly one of `run` (a command), `file` (a path) or `service` (start and probe)");
            return [];
        }
        const argv = (key: string, val: unknown) => {
            const list = p.list_(key, val).map((a, j) => p.str(`${key}[${j}]`, a) ?? "");
            if (list.length === 0) p.add(key, "must be a non-empty list of arguments (a command, not a shell string)");
            return list;
        };
        if (kinds[0] === "run") {
            p.keys(k, o, ["name", "run", "exitCode", "stdoutContains"]);
            return [{ name, kind: "command", run: argv(`${k}.run`, o.run), exitCode: p.int(`${k}.exitCode`, o.exitCode, 0, 255, 0), stdoutContains: p.str(`${k}.stdoutContains`, o.stdoutContains) }];
        }
        if (kinds[0] === "file") {
            p.keys(k, o, ["name", "file", "contains", "mode"]);
            const file = p.str(`${k}.file`, o.file, PATTERNS.imagePath, "absolute path in the image") ?? "/";
            return [{ name, kind: "file", path: file, contains: p.str(`${k}.contains`, o.contains), mode: p.str(`${k}.mode`, o.mode, PATTERNS.mode, "octal mode") }];
        }
        p.keys(k, o, ["name", "service"]);
        const s = p.obj(`${k}.service`, o.service) ?? {};
        p.keys(`${k}.service`, s, ["start", "http", "tcp", "timeoutSeconds"]);
        const http = p.obj(`${k}.service.http`, s.http);
        const tcp = p.obj(`${k}.service.tcp`, s.tcp);
        if (!http === !tcp) p.add(`${k}.service`, "needs exactly one probe: `http` or `tcp`");
        if (http) p.keys(`${k}.service.http`, http, ["port", "path", "status", "contains"]);
        if (tcp) p.keys(`${k}.service.tcp`, tcp, ["port"]);
        return [
            {
                name,
                kind: "service",
                start: argv(`${k}.service.start`, s.start),
                timeoutSeconds: p.int(`${k}.service.timeoutSeconds`, s.timeoutSeconds, 1, 600, 60),
                http: http && {
                    port: p.int(`${k}.service.http.port`, http.port, 1, 65535, 80),
                    path: p.str(`${k}.service.http.path`, http.path ?? "/", /^\/\S*$/, "URL path") ?? "/",
                    status: p.int(`${k}.service.http.status`, http.status, 100, 599, 200),
                    contains: p.str(`${k}.service.http.contains`, http.contains),
                },
                tcp: tcp && { port: p.int(`${k}.service.tcp.port`, tcp.port, 1, 65535, 1) },
            },
        ];
    });
}

function parseSource(p: Problems, v: unknown): Source | undefined {
    const o = p.obj("source", v);
    if (!o) return undefined;
    p.keys("source", o, ["rootfs", "image"]);
    if ((o.rootfs === undefined) === (o.image === undefined)) {
        p.add("source", "needs exactly one of `rootfs` (bootstrap from a package mirror) or `image` (an image reference)");
        return undefined;
    }
    if (o.image !== undefined) {
        const img = p.obj("source.image", typeof o.image === "string" ? { ref: o.image } : o.image) ?? {};
        p.keys("source.image", img, ["ref", "packageManager"]);
        const ref = p.str("source.image.ref", img.ref, /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/, "image reference host/repository[:tag][@digest]");
        if (img.ref === undefined) p.add("source.image.ref", "is required");
        const pm = p.str("source.image.packageManager", img.packageManager ?? "dnf", /^(dnf|apt)$/, "package manager (dnf or apt)") as PackageManager;
        return ref ? { kind: "image", ref, packageManager: pm ?? "dnf" } : undefined;
    }
    const r = p.obj("source.rootfs", o.rootfs) ?? {};
    p.keys("source.rootfs", r, ["distro", "suite", "mirror", "variant", "packages"]);
    const distro = p.str("source.rootfs.distro", r.distro ?? "debian", /^debian$/, "distro (supported: debian)");
    const suite = p.str("source.rootfs.suite", r.suite, PATTERNS.suite, "suite name");
    if (r.suite === undefined) p.add("source.rootfs.suite", "is required (e.g. bookworm)");
    const mirror = p.str("source.rootfs.mirror", r.mirror ?? "http://deb.debian.org/debian", /^https?:\/\/[^\s]+$/, "mirror URL");
    const variant = p.str("source.rootfs.variant", r.variant ?? "minbase", /^(minbase|apt|required|important|standard)$/, "mmdebstrap variant");
    const packages = p.names("source.rootfs.packages", r.packages, PATTERNS.package, "package name");
    if (!distro || !suite || !mirror || !variant) return undefined;
    return { kind: "rootfs", distro: "debian", suite, mirror, variant: variant as "minbase", packages };
}

/** Parses one catalog file's text. Problems go to `p`; returns what could be read. */
export function parseImage(p: Problems, file: string, text: string, exists: (rel: string) => boolean): ImageDefinition | undefined {
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length) {
        for (const e of doc.errors) {
            const pos = e.linePos?.[0];
            p.add("", `YAML error${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}: ${e.message.split("\n")[0]}`);
        }
        return undefined;
    }
    const o = p.obj("", doc.toJS());
    if (!o) {
        p.add("", "must be a mapping with at least name and version");
        return undefined;
    }
    p.keys("", o, TOP_KEYS);
    const name = p.str("name", o.name, PATTERNS.imageName, "image name (lower case letters, digits, . _ -)");
    if (o.name === undefined) p.add("name", "is required");
    const version = p.str("version", o.version, PATTERNS.version, "version (usable as a tag)");
    if (o.version === undefined) p.add("version", "is required");
    const parent = p.str("parent", o.parent, PATTERNS.imageName, "image name");
    const source = parseSource(p, o.source);
    if (o.parent !== undefined && o.source !== undefined) p.add("", "has both `parent` and `source`; an image is built on one of them");
    if (o.parent === undefined && o.source === undefined) p.add("", "needs `parent` (another catalog image) or `source` (rootfs or image)");

    const users = p.list_("users", o.users).flatMap((u, i) => {
        const k = `users[${i}]`;
        const uo = p.obj(k, u);
        if (!uo) return [];
        p.keys(k, uo, ["name", "groups", "sshKeys", "shell"]);
        const uname = p.str(`${k}.name`, uo.name, PATTERNS.user, "user name");
        if (uo.name === undefined) p.add(`${k}.name`, "is required");
        const shell = p.str(`${k}.shell`, uo.shell ?? "/bin/bash", /^\/[A-Za-z0-9/_.-]+$/, "shell path") ?? "/bin/bash";
        return uname
            ? [{ name: uname, groups: p.names(`${k}.groups`, uo.groups, PATTERNS.user, "group name"), sshKeys: p.names(`${k}.sshKeys`, uo.sshKeys, PATTERNS.sshKey, "SSH public key"), shell }]
            : [];
    });
    const unitsObj = p.obj("units", o.units) ?? {};
    p.keys("units", unitsObj, ["enable", "disable"]);
    const labelsObj = p.obj("labels", o.labels) ?? {};
    const labels: Record<string, string> = {};
    for (const [lk, lv] of Object.entries(labelsObj)) {
        if (!PATTERNS.labelKey.test(lk)) p.add(`labels.${lk}`, `${JSON.stringify(lk)} is not a valid label key`);
        const val = p.str(`labels.${lk}`, lv, /^[^\n\r]*$/, "label value (one line)");
        if (val !== undefined) labels[lk] = val;
    }
    if (!name || !version) return undefined;
    return {
        name,
        version,
        description: p.str("description", o.description),
        parent,
        source,
        packages: p.names("packages", o.packages, PATTERNS.package, "package name"),
        files: parseFiles(p, "files", o.files, exists),
        users,
        units: {
            enable: p.names("units.enable", unitsObj.enable, PATTERNS.unit, "systemd unit name"),
            disable: p.names("units.disable", unitsObj.disable, PATTERNS.unit, "systemd unit name"),
        },
        labels,
        tests: parseTests(p, o.tests),
        file,
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
        const p = new Problems(file);
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
        names = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
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

/** Reads a catalog-relative source file. */
export function readSource(catalog: Catalog, source: string): Promise<Buffer> {
    return fsp.readFile(path.join(catalog.dir, source));
}

export { Problems };
