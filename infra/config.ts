// The stack configuration (stacks/Pulumi.<site>.yaml), validated before any
// resource is registered. Every problem is reported at once, each naming its key.
//
// parseSiteConfig is pure: it takes the raw values (what pulumi.Config returns)
// so that unit tests can feed it bad input directly. loadSiteConfig reads them
// from the stack.
import * as pulumi from "@pulumi/pulumi";
import { isLoopback } from "../components/registry/client";
import { ARTIFACT_STORE_KINDS, DEFAULT_BUCKETS, type ArtifactStoreKind, type BucketNames } from "../components/storage/artifact-store";
import { bucketNameProblem } from "../components/storage/s3";

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
    /** The S3 artifact store; absent when the site publishes no artifacts. */
    artifacts?: ArtifactsConfig;
}

export interface ArtifactsConfig {
    /** "aws": @pulumi/aws with an explicit provider (needs the aws plugin); "s3-api": buckets through the S3 API. */
    kind: ArtifactStoreKind;
    /** http(s)://host[:port]; unset means AWS S3 itself (kind aws only). */
    endpoint?: string;
    region: string;
    pathStyle: boolean;
    buckets: BucketNames;
    noncurrentVersionDays: number;
    forceDestroy: boolean;
    /** Pulumi secrets (config keys image-factory:s3AccessKey and image-factory:s3SecretKey). */
    accessKey: pulumi.Output<string>;
    secretKey: pulumi.Output<string>;
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

const KNOWN_KEYS = ["site", "registry", "images", "builder", "artifacts"];
const SECRET_KEYS = ["registryPassword", "s3AccessKey", "s3SecretKey"];
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

    const artifacts = parseArtifacts(c, raw);

    if (c.problems.length) throw new ConfigError(c.problems);
    return {
        site: { name: siteName!, role },
        registry: { url: url!, namespace: namespace!, username, password },
        images: { catalog, select, channel, pins, customizations },
        builder: { kind: kind as "local", storage },
        artifacts,
    };
}

function parseArtifacts(c: Checker, raw: RawConfig): ArtifactsConfig | undefined {
    const a = c.object("artifacts", raw.values.artifacts, ["kind", "endpoint", "region", "pathStyle", "buckets", "noncurrentVersionDays", "forceDestroy"]);
    if (!a) {
        for (const k of ["s3AccessKey", "s3SecretKey"]) if (raw.secrets[k]) c.fail(k, "is set but the artifact store is not (set image-factory:artifacts, or remove it)");
        return undefined;
    }
    const kind = c.string("artifacts.kind", a.kind, new RegExp(`^(${ARTIFACT_STORE_KINDS.join("|")})$`), `must be one of ${ARTIFACT_STORE_KINDS.join(", ")}`) as ArtifactStoreKind;
    if (a.kind === undefined) c.fail("artifacts.kind", `is required (one of ${ARTIFACT_STORE_KINDS.join(", ")})`);
    const endpoint = c.string("artifacts.endpoint", a.endpoint, /^https?:\/\/[^/\s]+\/?$/, "must be http(s)://host[:port]")?.replace(/\/$/, "");
    if (kind === "s3-api" && a.endpoint === undefined) c.fail("artifacts.endpoint", 'is required when artifacts.kind is "s3-api"');
    const region = c.string("artifacts.region", a.region, /^[a-z0-9-]{1,64}$/, "must be a region name such as us-east-1") ?? "us-east-1";
    const boolean = (key: string, v: unknown, dflt: boolean): boolean => {
        if (v === undefined) return dflt;
        if (typeof v !== "boolean") c.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
        return v === true;
    };
    // S3-compatible stores mostly want path-style; AWS wants virtual-host style.
    const pathStyle = boolean("artifacts.pathStyle", a.pathStyle, endpoint !== undefined);
    const forceDestroy = boolean("artifacts.forceDestroy", a.forceDestroy, false);
    const b = c.object("artifacts.buckets", a.buckets ?? {}, Object.keys(DEFAULT_BUCKETS)) ?? {};
    const buckets = { ...DEFAULT_BUCKETS };
    let namesValid = true;
    for (const role of Object.keys(DEFAULT_BUCKETS) as Array<keyof BucketNames>) {
        const name = c.string(`artifacts.buckets.${role}`, b[role]);
        const problem = name === undefined ? undefined : bucketNameProblem(name);
        if (problem) c.fail(`artifacts.buckets.${role}`, problem);
        if (problem || (b[role] !== undefined && name === undefined)) namesValid = false;
        else if (name !== undefined) buckets[role] = name;
    }
    if (namesValid && new Set(Object.values(buckets)).size !== 3) c.fail("artifacts.buckets", `must name three different buckets, got ${JSON.stringify(buckets)}`);
    let days = 30;
    if (a.noncurrentVersionDays !== undefined) {
        if (Number.isInteger(a.noncurrentVersionDays) && (a.noncurrentVersionDays as number) > 0) days = a.noncurrentVersionDays as number;
        else c.fail("artifacts.noncurrentVersionDays", `must be a whole number of days > 0, got ${JSON.stringify(a.noncurrentVersionDays)}`);
    }
    const accessKey = raw.secrets.s3AccessKey;
    const secretKey = raw.secrets.s3SecretKey;
    if (!accessKey) c.fail("s3AccessKey", "is required when artifacts is set (pulumi config set --secret s3AccessKey, value on stdin)");
    if (!secretKey) c.fail("s3SecretKey", "is required when artifacts is set (pulumi config set --secret s3SecretKey, value on stdin)");
    return { kind, endpoint, region, pathStyle, buckets, noncurrentVersionDays: days, forceDestroy, accessKey: accessKey!, secretKey: secretKey! };
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
