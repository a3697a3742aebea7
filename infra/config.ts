// The stack configuration (stacks/Pulumi.<site>.yaml), validated before any
// resource is registered. Every problem is reported at once, each naming its key.
//
// parseSiteConfig is pure: it takes the raw values (what pulumi.Config returns)
// so that unit tests can feed it bad input directly. loadSiteConfig reads them
// from the stack.
import * as pulumi from "@pulumi/pulumi";
import { FILESYSTEMS, FORMATS, parseSize, type DiskFormat, type Filesystem } from "../components/prestage/layout";
import { DEFAULT_MOUNT_POINT, LABEL, PARTITION_PATH, RESERVED_NAMES, SET_NAME } from "../components/prestage/tooling";
import { isLoopback, parseRef } from "../components/registry/client";

export const NAMESPACE = "image-factory";
export const ROLES = ["local", "acp", "hub"] as const;
export type Role = (typeof ROLES)[number];

export interface SiteConfig {
    site: { name: string; role: Role };
    registry: {
        /** host[:port] of the registry that hosts this site's images. */
        url: string;
        /** Repository prefix: images go to <url>/<namespace>/<image>. */
        namespace: string;
        username?: string;
        /** Pulumi secret (config key image-factory:registryPassword). */
        password?: pulumi.Output<string>;
    };
    images: {
        /** Catalog folder, relative to the project root. */
        catalog: string;
        /** Which catalog images this site builds (with their ancestors). Default: all. */
        select?: string[];
        /** A moving tag besides `latest`, e.g. "stable" or "canary". */
        channel?: string;
        /** Rollback: image name → an earlier version or a sha256 digest that its tags point at. */
        pins: Record<string, string>;
        /** Per-site additions to images: files, packages, labels. */
        customizations: Record<string, Customization>;
    };
    builder: {
        kind: "local";
        /** containers-storage folder for buildah (vfs driver). Default: the user cache. */
        storage?: string;
    };
    prestage: {
        /** Absolute folder for disk artifacts. Default: <project>/.local/artifacts/disks. */
        dir?: string;
        disks: Record<string, PrestageDiskConfig>;
    };
}

/** One factory pre-staged disk (image-factory:prestage.disks.<name>). */
export interface PrestageDiskConfig {
    /** Disk size in bytes (config: "120GiB", "8G" or bytes). */
    size: number;
    format: DiskFormat;
    label: string;
    filesystem: Filesystem;
    /** Free space on top of the content, percent. */
    headroom: number;
    /** Where the node mounts the partition. */
    mountPoint: string;
    /** Folder → catalog image names (the released image, by digest) or full image references. */
    contentSets: Record<string, string[]>;
    /** `source` relative to the project root or absolute. */
    extraFiles: Array<{ path: string; content?: string; source?: string }>;
}

export interface Customization {
    files?: Array<{ path: string; content?: string; source?: string; mode?: string; owner?: string }>;
    packages?: string[];
    labels?: Record<string, string>;
}

/** All problems found in the stack configuration, each naming its key. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

/** The raw configuration: plain values by key (without the namespace), secrets as Outputs. */
export interface RawConfig {
    values: Record<string, unknown>;
    secrets: Record<string, pulumi.Output<string> | undefined>;
}

const KNOWN_KEYS = ["site", "registry", "images", "builder", "prestage"];
const SECRET_KEYS = ["registryPassword"];
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_PORT = /^(localhost|[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\])(:\d{1,5})?$/i;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A small checker that collects problems under a key path. */
class Checker {
    readonly problems: string[] = [];
    fail(key: string, msg: string): void {
        this.problems.push(`${NAMESPACE}:${key}: ${msg}`);
    }
    object(key: string, v: unknown, allowed: string[]): Record<string, unknown> | undefined {
        if (v === undefined) return undefined;
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            this.fail(key, `must be an object, got ${JSON.stringify(v)}`);
            return undefined;
        }
        for (const k of Object.keys(v)) {
            if (!allowed.includes(k)) this.fail(`${key}.${k}`, `unknown key (expected one of: ${allowed.join(", ")})`);
        }
        return v as Record<string, unknown>;
    }
    string(key: string, v: unknown, pattern?: RegExp, hint?: string): string | undefined {
        if (v === undefined) return undefined;
        if (typeof v !== "string" || (pattern && !pattern.test(v))) {
            this.fail(key, `${hint ?? "must be a string"}, got ${JSON.stringify(v)}`);
            return undefined;
        }
        return v;
    }
    required<T>(key: string, v: T | undefined): T | undefined {
        if (v === undefined) this.fail(key, "is required");
        return v;
    }
    stringList(key: string, v: unknown, pattern?: RegExp, hint?: string): string[] | undefined {
        if (v === undefined) return undefined;
        if (!Array.isArray(v)) {
            this.fail(key, `must be a list, got ${JSON.stringify(v)}`);
            return undefined;
        }
        return v.map((item, i) => this.string(`${key}[${i}]`, item, pattern, hint) ?? "");
    }
    stringMap(key: string, v: unknown, valuePattern?: RegExp, hint?: string): Record<string, string> {
        const o = this.object(key, v, Object.keys((v as object) ?? {}));
        const out: Record<string, string> = {};
        for (const [k, val] of Object.entries(o ?? {})) {
            const s = this.string(`${key}.${k}`, val, valuePattern, hint);
            if (s !== undefined) out[k] = s;
        }
        return out;
    }
}

export function parseSiteConfig(raw: RawConfig): SiteConfig {
    const c = new Checker();
    for (const k of Object.keys(raw.values)) {
        if (!KNOWN_KEYS.includes(k) && !SECRET_KEYS.includes(k)) c.fail(k, `unknown key (expected one of: ${[...KNOWN_KEYS, ...SECRET_KEYS].join(", ")})`);
    }

    const site = c.object("site", c.required("site", raw.values.site), ["name", "role"]);
    const siteName = c.required("site.name", c.string("site.name", site?.name, NAME, "must be a DNS label (a-z, 0-9, -)"));
    const role = c.required("site.role", c.string("site.role", site?.role, new RegExp(`^(${ROLES.join("|")})$`), `must be one of ${ROLES.join(", ")}`)) as Role;

    const reg = c.object("registry", c.required("registry", raw.values.registry), ["url", "namespace", "username"]);
    const url = c.required("registry.url", c.string("registry.url", reg?.url, HOST_PORT, "must be host[:port] without a scheme"));
    const namespace = c.string("registry.namespace", reg?.namespace, /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, "must be a repository path") ?? siteName;
    const username = c.string("registry.username", reg?.username);
    const password = raw.secrets.registryPassword;
    if (username && !password) c.fail("registryPassword", "is required when registry.username is set (pulumi config set --secret registryPassword ...)");
    if (url && !isLoopback(url) && role === "local") {
        // Allowed, but a local site normally hosts on loopback; nothing to report.
    }

    const img = c.object("images", raw.values.images ?? {}, ["catalog", "select", "channel", "pins", "customizations"]);
    const catalog = c.string("images.catalog", img?.catalog, /^[^/].*$/, "must be a folder relative to the project root") ?? "images";
    const select = c.stringList("images.select", img?.select, NAME, "must be an image name");
    const channel = c.string("images.channel", img?.channel, TAG, "must be a valid tag");
    if (channel === "latest") c.fail("images.channel", '"latest" is always moved; pick another channel name');
    const pins = c.stringMap("images.pins", img?.pins, new RegExp(`${TAG.source}|${DIGEST.source}`), "must be a version or a sha256 digest");
    const customizations: Record<string, Customization> = {};
    for (const [name, v] of Object.entries(c.object("images.customizations", img?.customizations, Object.keys((img?.customizations as object) ?? {})) ?? {})) {
        const key = `images.customizations.${name}`;
        const o = c.object(key, v, ["files", "packages", "labels"]);
        if (!o) continue;
        const files = o.files === undefined ? undefined : Array.isArray(o.files) ? o.files : (c.fail(`${key}.files`, "must be a list"), undefined);
        customizations[name] = {
            files: files?.map((f, i) => {
                const fo = c.object(`${key}.files[${i}]`, f, ["path", "content", "source", "mode", "owner"]) ?? {};
                return {
                    path: c.required(`${key}.files[${i}].path`, c.string(`${key}.files[${i}].path`, fo.path)) ?? "",
                    content: c.string(`${key}.files[${i}].content`, fo.content),
                    source: c.string(`${key}.files[${i}].source`, fo.source),
                    mode: c.string(`${key}.files[${i}].mode`, fo.mode, /^0?[0-7]{3,4}$/, 'must be an octal mode such as "0644"'),
                    owner: c.string(`${key}.files[${i}].owner`, fo.owner),
                };
            }),
            packages: c.stringList(`${key}.packages`, o.packages),
            labels: o.labels === undefined ? undefined : c.stringMap(`${key}.labels`, o.labels),
        };
    }

    const b = c.object("builder", raw.values.builder ?? {}, ["kind", "storage"]);
    const kind = c.string("builder.kind", b?.kind, /^local$/, 'must be "local"') ?? "local";
    const storage = c.string("builder.storage", b?.storage, /^\//, "must be an absolute path");

    const prestage = parsePrestage(c, raw.values.prestage);

    if (c.problems.length) throw new ConfigError(c.problems);
    return {
        site: { name: siteName!, role },
        registry: { url: url!, namespace: namespace!, username, password },
        images: { catalog, select, channel, pins, customizations },
        builder: { kind: kind as "local", storage },
        prestage,
    };
}

function parsePrestage(c: Checker, value: unknown): SiteConfig["prestage"] {
    const p = c.object("prestage", value ?? {}, ["dir", "disks"]);
    const dir = c.string("prestage.dir", p?.dir, /^\//, "must be an absolute path");
    const disks: Record<string, PrestageDiskConfig> = {};
    for (const [name, v] of Object.entries(c.object("prestage.disks", p?.disks, Object.keys((p?.disks as object) ?? {})) ?? {})) {
        const key = `prestage.disks.${name}`;
        if (!NAME.test(name)) c.fail(key, "a disk name must be a DNS label (a-z, 0-9, -)");
        const d = c.object(key, v, ["size", "format", "label", "filesystem", "headroom", "mountPoint", "contentSets", "extraFiles"]);
        if (!d) continue;
        let size = 0;
        const sizeValue = c.required(`${key}.size`, d.size);
        if (sizeValue !== undefined) {
            try {
                size = parseSize(sizeValue as string | number);
                if (size % 512 !== 0) c.fail(`${key}.size`, `must be a multiple of 512 bytes, got ${size}`);
            } catch (e) {
                c.fail(`${key}.size`, (e as Error).message);
            }
        }
        const format = c.string(`${key}.format`, d.format, new RegExp(`^(${FORMATS.join("|")})$`), `must be one of ${FORMATS.join(", ")}`) ?? "raw";
        const label = c.string(`${key}.label`, d.label, LABEL, "must be 1-12 characters (letters, digits, . _ -)") ?? "data";
        const filesystem = c.string(`${key}.filesystem`, d.filesystem, new RegExp(`^(${FILESYSTEMS.join("|")})$`), `must be one of ${FILESYSTEMS.join(", ")}`) ?? "xfs";
        const headroom = d.headroom ?? 10;
        if (typeof headroom !== "number" || !(headroom >= 0 && headroom <= 1000)) c.fail(`${key}.headroom`, `must be a percentage from 0 to 1000, got ${JSON.stringify(headroom)}`);
        const mountPoint = c.string(`${key}.mountPoint`, d.mountPoint, /^\/[A-Za-z0-9._/-]+$/, "must be an absolute path") ?? DEFAULT_MOUNT_POINT;
        const contentSets: Record<string, string[]> = {};
        const sets = c.object(`${key}.contentSets`, c.required(`${key}.contentSets`, d.contentSets), Object.keys((d.contentSets as object) ?? {}));
        for (const [set, refs] of Object.entries(sets ?? {})) {
            const setKey = `${key}.contentSets.${set}`;
            if (!SET_NAME.test(set) || RESERVED_NAMES.includes(set)) c.fail(setKey, `"${set}" is not a usable folder name (a-z, 0-9, . _ -; not ${RESERVED_NAMES.join(", ")})`);
            contentSets[set] = (c.stringList(setKey, refs) ?? []).map((ref, i) => {
                if (ref.includes("/")) {
                    try {
                        parseRef(ref);
                    } catch (e) {
                        c.fail(`${setKey}[${i}]`, (e as Error).message);
                    }
                } else if (!NAME.test(ref)) {
                    c.fail(`${setKey}[${i}]`, `must be a catalog image name or a full image reference (host/repository@sha256:… or :tag), got ${JSON.stringify(ref)}`);
                }
                return ref;
            });
        }
        const extraFiles = d.extraFiles === undefined ? [] : Array.isArray(d.extraFiles) ? d.extraFiles : (c.fail(`${key}.extraFiles`, "must be a list"), []);
        disks[name] = {
            size,
            format: format as DiskFormat,
            label,
            filesystem: filesystem as Filesystem,
            headroom: headroom as number,
            mountPoint,
            contentSets,
            extraFiles: extraFiles.map((f: unknown, i: number) => {
                const fk = `${key}.extraFiles[${i}]`;
                const fo = c.object(fk, f, ["path", "content", "source"]) ?? {};
                const file = {
                    path: (c.required(`${fk}.path`, fo.path) !== undefined && c.string(`${fk}.path`, fo.path, PARTITION_PATH, "must be a relative path on the partition")) || "",
                    content: c.string(`${fk}.content`, fo.content),
                    source: c.string(`${fk}.source`, fo.source),
                };
                if ((file.content === undefined) === (file.source === undefined)) c.fail(fk, "needs exactly one of content and source");
                if (RESERVED_NAMES.includes(file.path.split("/")[0])) c.fail(`${fk}.path`, `${file.path} is the partition's own`);
                return file;
            }),
        };
    }
    return { dir, disks };
}

/** Reads and validates the stack's configuration. */
export function loadSiteConfig(): SiteConfig {
    const cfg = new pulumi.Config(NAMESPACE);
    const values: Record<string, unknown> = {};
    for (const k of KNOWN_KEYS) {
        // Structured values arrive as JSON; a plain string stays a string (and is reported if wrong).
        const text = cfg.get(k);
        if (text === undefined) continue;
        try {
            values[k] = JSON.parse(text);
        } catch {
            values[k] = text;
        }
    }
    // Keys this program does not know are typos; pulumi.Config cannot list them, the runtime env can.
    for (const k of Object.keys(JSON.parse(process.env.PULUMI_CONFIG ?? "{}"))) {
        const [, ns, key] = /^([^:]+):(?:config:)?(.+)$/.exec(k) ?? [];
        if (ns === NAMESPACE && !KNOWN_KEYS.includes(key) && !SECRET_KEYS.includes(key)) values[key] = "(set)";
    }
    const secrets: RawConfig["secrets"] = {};
    for (const k of SECRET_KEYS) secrets[k] = cfg.getSecret(k);
    return parseSiteConfig({ values, secrets });
}
