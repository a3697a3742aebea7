// The stack configuration (stacks/Pulumi.<site>.yaml), validated before any
// resource is registered. Every problem is reported at once, each naming its key.
//
// The keys are declared once in config-schema.ts; the rules a schema cannot say live
// with their section: config-acp.ts, config-artifacts.ts, config-boot.ts, config-prestage.ts,
// config-rollout.ts, config-signing.ts, and the site, registry, images and hub keys here. parseSiteConfig is pure: it takes the raw
// values (what pulumi.Config returns) so that unit tests can feed it bad input
// directly. loadSiteConfig reads them from the stack.
import * as pulumi from "@pulumi/pulumi";
import type { Customization } from "../components/images";
import { validate, ValidationProblems } from "../components/schema";
import { publicKeyPem } from "../components/supply-chain";
import { type AcpSiteParts, acpSection } from "./config-acp";
import { type ArtifactsConfig, artifactsSection } from "./config-artifacts";
import { type BootConfig, bootSection } from "./config-boot";
import { type PrestageConfig, prestageSection } from "./config-prestage";
import { type RetentionConfig, type RolloutConfig, retentionSection, rolloutSection } from "./config-rollout";
import { type SigningConfig, signingSection } from "./config-signing";
import { NAMESPACE, type Role, SECRET_KEYS, type SecretKey, StackConfig } from "./config-schema";
import { localSecretsPath, readLocalSecrets } from "./local-secrets";
import { projectRoot } from "./project-root";
import { FactoryError } from "../components/errors";

export type { AcpConfig } from "./config-acp";
export type { ArtifactsConfig } from "./config-artifacts";
export type { BootConfig } from "./config-boot";
export type { PrestageConfig, PrestageDiskConfig } from "./config-prestage";
export type { RetentionConfig, RolloutConfig } from "./config-rollout";
export type { SigningConfig } from "./config-signing";
export { NAMESPACE, ROLES, type Role } from "./config-schema";
export type { Customization };

/** What every site has, whatever its role. */
interface SiteBase {
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
        /** Push the kept build of the same definition on the same parent (the build cache) instead of building again. */
        reuseBuilds: boolean;
    };
    /** A site served by a hub mirrors the hub's released images instead of building. */
    hub?: {
        /** The hub's stack, org/project/stack, read with StackReference. */
        stack: string;
        username?: string;
        /** Pulumi secret (config key image-factory:hubRegistryPassword). */
        password?: pulumi.Output<string>;
        /** The hub's rollout group this site follows. */
        group?: string;
        /** With group: an http(s) URL answering 2xx when the site is healthy. */
        healthProbe?: string;
    };
    /** A hub's staged rollout through site groups (image-factory:rollout). */
    rollout?: RolloutConfig;
    /** Which old builds a stack that builds deletes from its registry (image-factory:retention). */
    retention?: RetentionConfig;
    /** The S3 artifact store; absent when the site publishes no artifacts. */
    artifacts?: ArtifactsConfig;
    /** The boot gate and VM disks (image-factory:boot). */
    boot: BootConfig;
    prestage: PrestageConfig;
    /** The fleet's signing key (image-factory:signing and the secret signingKey); absent: nothing is signed or verified. */
    signing?: SigningConfig;
}

/** Role local: this machine only, no cluster. */
export interface LocalSiteConfig extends SiteBase {
    site: { name: string; role: "local" };
    acp?: undefined;
    kubeconfig?: undefined;
    sshPrivateKey?: undefined;
    webhookSecret?: undefined;
}

/** Roles acp and hub: also the cluster's services, through its kubeconfig. */
export interface AcpSiteConfig extends SiteBase, AcpSiteParts {
    site: { name: string; role: "acp" | "hub" };
}

/** A site's configuration: its role says which parts it has. */
export type SiteConfig = LocalSiteConfig | AcpSiteConfig;

/** True for roles acp and hub: the site has a cluster and its acp section. */
export const onAcp = (config: SiteConfig): config is AcpSiteConfig => config.site.role !== "local";

/** All problems found in the stack configuration, each naming its key. */
export class ConfigError extends FactoryError {
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

/** What each section's checks get: the schema-checked values, the raw input, and where to report. */
export interface Section {
    /** The values after the schema, defaults filled in (a key that failed it may be missing). */
    values: StackConfig;
    raw: RawConfig;
    problems: ValidationProblems;
    fail: (key: string, message: string) => void;
    /** True when the schema already reported a problem at or below this key. */
    failed: (key: string) => boolean;
    secret: (key: SecretKey) => pulumi.Output<string> | undefined;
}

const KNOWN_KEYS = Object.keys(StackConfig.properties);

/**
 * Validates the raw configuration: the schema (config-schema.ts) first, then the
 * rules that span keys or need secrets. Every problem at once, each naming its key.
 */
export function parseSiteConfig(raw: RawConfig): SiteConfig {
    const problems = new ValidationProblems((key) => `${NAMESPACE}:${key}: `);
    const { value: v, failed } = validate(StackConfig, raw.values, problems);
    const section: Section = { values: v, raw, problems, fail: (key, message) => problems.add(key, message), failed, secret: (k) => raw.secrets[k] };
    const { fail, secret } = section;
    const ok = <T>(key: string, x: T | undefined): T | undefined => (failed(key) ? undefined : x);

    const role = ok("site.role", v.site?.role);
    const siteName = ok("site.name", v.site?.name);
    const url = ok("registry.url", v.registry?.url);
    const username = ok("registry.username", v.registry?.username);
    if (username && !secret("registryPassword")) fail("registryPassword", "is required when registry.username is set (pulumi config set --secret registryPassword ...)");
    const images = v.images ?? {};
    const pins = images.pins ?? {};
    const customizations = images.customizations ?? {};
    if (images.channel === "latest") fail("images.channel", '"latest" is always moved; pick another channel name');

    const hub = ok("hub", v.hub);
    if (hub?.username && !secret("hubRegistryPassword")) fail("hubRegistryPassword", "is required when hub.username is set (pulumi config set --secret hubRegistryPassword ...)");
    if (v.hub) {
        // A mirroring site hosts exactly what the hub built and tested.
        if (Object.keys(pins).length) fail("images.pins", "a site that mirrors a hub releases the hub's tags; pin on the hub");
        if (Object.keys(customizations).length) fail("images.customizations", "a site that mirrors a hub hosts the hub's images as built; customize on the hub");
        if (images.channel) fail("images.channel", "a site that mirrors a hub copies the hub's tags; set the channel on the hub");
        if (role === "hub") fail("hub", "a hub does not mirror another hub");
    }

    const acp = acpSection(section, role, url, username);
    const artifacts = artifactsSection(section);
    const boot = bootSection(section);
    const prestage = prestageSection(section);
    const rollout = rolloutSection(section);
    const retention = retentionSection(section);
    const signing = signingSection(section);

    if (problems.list.length) throw new ConfigError(problems.list);
    const builder = v.builder ?? {};
    const common: SiteBase = {
        site: { name: siteName!, role: role! },
        registry: { url: url!, namespace: v.registry.namespace ?? siteName!, username, password: secret("registryPassword") },
        images: { catalog: images.catalog ?? "images", select: images.select, channel: images.channel, pins, customizations },
        builder: { kind: builder.kind ?? "local", storage: builder.storage, reuseBuilds: builder.reuseBuilds ?? true },
        hub: hub ? { stack: hub.stack, username: hub.username, password: secret("hubRegistryPassword"), group: hub.group, healthProbe: hub.healthProbe } : undefined,
        rollout,
        retention,
        artifacts,
        boot,
        prestage,
        ...(signing ? { signing } : {}),
    };
    if (role === "local") return { ...common, site: { name: siteName!, role } };
    // No problem was reported, so a cluster role has its parts.
    return { ...common, site: { name: siteName!, role: role! as "acp" | "hub" }, ...acp! };
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
        if (ns === NAMESPACE && !KNOWN_KEYS.includes(key) && !(SECRET_KEYS as readonly string[]).includes(key)) values[key] = "(set)";
    }
    // Secrets from the stack file, or from the machine's git-ignored .local/secrets/<stack>.json.
    const local = readLocalSecrets(projectRoot(), pulumi.getStack(), SECRET_KEYS);
    const secrets: RawConfig["secrets"] = {};
    const problems: string[] = [];
    for (const k of SECRET_KEYS) {
        const fromStack = cfg.getSecret(k);
        if (fromStack && local[k] !== undefined) problems.push(`${NAMESPACE}:${k}: is set both in the stack file and in ${localSecretsPath(pulumi.getStack())}; remove one`);
        secrets[k] = fromStack ?? (local[k] !== undefined ? pulumi.secret(local[k]) : undefined);
    }
    // A fleet key that `npm run up` made for this machine (the local stack): its public half is
    // derived here, so the tracked stack file carries none and stays as committed.
    // (A key also in the stack file is already a problem above.)
    if (values.signing === undefined && local.signingKey !== undefined) {
        try {
            values.signing = { publicKey: publicKeyPem(local.signingKey, `${localSecretsPath(pulumi.getStack())}: signingKey`) };
        } catch (e) {
            problems.push((e as Error).message);
        }
    }
    if (problems.length) throw new ConfigError(problems);
    return parseSiteConfig({ values, secrets });
}
