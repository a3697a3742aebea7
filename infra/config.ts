// The stack configuration (stacks/Pulumi.<site>.yaml), validated before any
// resource is registered. Every problem is reported at once, each naming its key.
//
// parseSiteConfig is pure: it takes the raw values (what pulumi.Config returns)
// so that unit tests can feed it bad input directly. loadSiteConfig reads them
// from the stack.
import * as pulumi from "@pulumi/pulumi";
import { isLoopback } from "../components/registry/client";

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
    /** A site served by a hub mirrors the hub's released images instead of building. */
    hub?: {
        /** The hub's stack, org/project/stack, read with StackReference. */
        stack: string;
        username?: string;
        /** Pulumi secret (config key image-factory:hubRegistryPassword). */
        password?: pulumi.Output<string>;
    };
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

const KNOWN_KEYS = ["site", "registry", "images", "builder", "hub"];
const SECRET_KEYS = ["registryPassword", "hubRegistryPassword"];
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
    /** A required string: "is required" when absent, the pattern's hint when malformed (never both). */
    requiredString(key: string, v: unknown, pattern?: RegExp, hint?: string): string | undefined {
        if (v === undefined) {
            this.fail(key, "is required");
            return undefined;
        }
        return this.string(key, v, pattern, hint);
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
    const siteName = site && c.requiredString("site.name", site.name, NAME, "must be a DNS label (a-z, 0-9, -)");
    const role = site && (c.requiredString("site.role", site.role, new RegExp(`^(${ROLES.join("|")})$`), `must be one of ${ROLES.join(", ")}`) as Role);

    const reg = c.object("registry", c.required("registry", raw.values.registry), ["url", "namespace", "username"]);
    const url = reg && c.requiredString("registry.url", reg.url, HOST_PORT, "must be host[:port] without a scheme");
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

    const hubObj = c.object("hub", raw.values.hub, ["stack", "username"]);
    const hubStack = c.string("hub.stack", hubObj?.stack, /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be organization/project/stack");
    if (hubObj && hubObj.stack === undefined) c.fail("hub.stack", "is required (organization/project/stack of the hub)");
    const hubUser = c.string("hub.username", hubObj?.username);
    if (hubUser && !raw.secrets.hubRegistryPassword) c.fail("hubRegistryPassword", "is required when hub.username is set (pulumi config set --secret hubRegistryPassword ...)");
    if (hubObj) {
        // A mirroring site hosts exactly what the hub built and tested.
        if (Object.keys(pins).length) c.fail("images.pins", "a site that mirrors a hub releases the hub's tags; pin on the hub");
        if (Object.keys(customizations).length) c.fail("images.customizations", "a site that mirrors a hub hosts the hub's images as built; customize on the hub");
        if (channel) c.fail("images.channel", "a site that mirrors a hub copies the hub's tags; set the channel on the hub");
    }

    if (c.problems.length) throw new ConfigError(c.problems);
    return {
        site: { name: siteName!, role: role! },
        registry: { url: url!, namespace: namespace!, username, password },
        images: { catalog, select, channel, pins, customizations },
        builder: { kind: kind as "local", storage },
        hub: hubStack ? { stack: hubStack, username: hubUser, password: raw.secrets.hubRegistryPassword } : undefined,
    };
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
