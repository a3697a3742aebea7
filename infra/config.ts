// The stack configuration (stacks/Pulumi.<site>.yaml), validated before any
// resource is registered. Every problem is reported at once, each naming its key.
//
// parseSiteConfig is pure: it takes the raw values (what pulumi.Config returns)
// so that unit tests can feed it bad input directly. loadSiteConfig reads them
// from the stack.
import * as pulumi from "@pulumi/pulumi";
import type { BootSource, BuilderVmInput, OperatorName, TestMode, ToolImages } from "../components/acp";
import type { Customization } from "../components/images";
import { type DiskFormat, type Filesystem, parseSize, RESERVED_NAMES, SET_NAME } from "../components/prestage";
import { parseRef, type RegistryMode } from "../components/registry";
import { PATTERNS, validate, ValidationProblems } from "../components/schema";
import { type ArtifactStoreKind, bucketNameProblem, type BucketNames } from "../components/storage";
import { NAMESPACE, type Role, SECRET_KEYS, type SecretKey, StackConfig } from "./config-schema";
import { localSecretsPath, readLocalSecrets } from "./local-secrets";
import { projectRoot } from "./project-root";

export { NAMESPACE, ROLES, type Role } from "./config-schema";
export type { Customization };

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
    /** The ACP's services (roles acp and hub only). */
    acp?: AcpConfig;
    /** Pulumi secret (image-factory:kubeconfig): the site cluster's kubeconfig. Required for roles acp and hub. */
    kubeconfig?: pulumi.Output<string>;
    /** Pulumi secret (image-factory:sshPrivateKey): the key composes log in to the builder VM with. */
    sshPrivateKey?: pulumi.Output<string>;
    /** Pulumi secret (image-factory:webhookSecret): push webhooks to the in-cluster trigger are signed with it. */
    webhookSecret?: pulumi.Output<string>;
    /** The S3 artifact store; absent when the site publishes no artifacts. */
    artifacts?: ArtifactsConfig;
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
    /** Images whose boot artifact set (kernel, initrd, squashfs rootfs, manifest) is published to the boot-images bucket. */
    bootArtifacts: string[];
    /** Pulumi secrets (config keys image-factory:s3AccessKey and image-factory:s3SecretKey). */
    accessKey: pulumi.Output<string>;
    secretKey: pulumi.Output<string>;
}

export interface AcpConfig {
    /** The namespace of this program's workloads on the cluster: pipelines, builder VMs, VM templates. */
    namespace: string;
    /** How long `up` waits for an operator to install, HyperConverged to be available, a VM to be Ready, a disk to import. */
    waitTimeoutSeconds: number;
    operators: Record<OperatorName, { channel: string; installPlanApproval: "Automatic" | "Manual" }>;
    /** The OLM CatalogSource operators install from. */
    catalogSource: { name: string; namespace: string };
    registry: { mode: RegistryMode; image: string; htpasswdImage: string; storage: string; storageClass?: string };
    /** Disconnected site: pulls from these source registries go to the hub's mirror. */
    mirror?: { registry: string; sources: string[] };
    builderVm?: Omit<BuilderVmInput, "site" | "namespace" | "serviceType" | "generation"> & {
        /** LoadBalancer, or NodePort with the address of a node composes reach. */
        service: { type: "LoadBalancer" } | { type: "NodePort"; host: string };
    };
    pipeline?: {
        git: { url: string; revision: string };
        /** Which catalog images the cluster builds (their ancestors come along). Default: all. */
        images?: string[];
        testMode: TestMode;
        toolImages: ToolImages;
        workspaceSize: string;
        /** Exposes the EventListener by a Route on this host, for git servers outside the cluster. */
        webhookHost?: string;
    };
    vmTemplates?: {
        /** Which released disk images get a template. Default: all. */
        images?: string[];
        storage: string;
        storageClass?: string;
        cpu: number;
        memory: string;
    };
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

const KNOWN_KEYS = Object.keys(StackConfig.properties);

/**
 * Validates the raw configuration: the schema (config-schema.ts) first, then the
 * rules that span keys or need secrets. Every problem at once, each naming its key.
 */
export function parseSiteConfig(raw: RawConfig): SiteConfig {
    const problems = new ValidationProblems((key) => `${NAMESPACE}:${key}: `);
    const { value: v, failed } = validate(StackConfig, raw.values, problems);
    const fail = (key: string, message: string) => problems.add(key, message);
    const secret = (k: SecretKey) => raw.secrets[k];
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

    const onAcp = role === "acp" || role === "hub";
    let acp: AcpConfig | undefined;
    if (onAcp) {
        if (!secret("kubeconfig")) fail("kubeconfig", `is required for role ${role}: the site cluster's kubeconfig (pulumi config set --secret kubeconfig < kubeconfig.yaml)`);
        // The registry is served through a Route on port 443.
        if (url && /:\d+$/.test(url)) fail("registry.url", `must be a host name without a port for role ${role} (the registry is served by an OpenShift Route), got ${JSON.stringify(url)}`);
        // An absent section is an empty one: its defaults apply.
        const a = v.acp ?? validate(StackConfig.properties.acp, {}, problems).value;
        if (a.mirror && role === "hub") fail("acp.mirror", "is for disconnected sites (role acp): a hub is the mirror");
        const svc = a.builderVm?.service;
        if (svc?.type === "NodePort" && !svc.host) fail("acp.builderVm.service.host", "is required with service type NodePort: the address of a node composes reach");
        if (svc?.type === "LoadBalancer" && svc.host) fail("acp.builderVm.service.host", "is only for service type NodePort (a LoadBalancer has its own address)");
        if (a.registry?.mode === "deployment" && !username && !failed("registry.username"))
            fail("registry.username", "is required with acp.registry.mode deployment (the registry Deployment serves with htpasswd credentials)");
        else if (a.pipeline && !username && !failed("registry.username"))
            fail("registry.username", "is required with acp.pipeline (the in-cluster pipeline pushes with registry.username and registryPassword)");
        if (a.builderVm && !secret("sshPrivateKey"))
            fail("sshPrivateKey", "is required with acp.builderVm: composes log in to the builder VM with it (pulumi config set --secret sshPrivateKey < id_ed25519)");
        if (a.pipeline && !secret("webhookSecret"))
            fail(
                "webhookSecret",
                "is required with acp.pipeline: its trigger accepts only push webhooks signed with it (pulumi config set --secret webhookSecret, value on stdin; give the git server the same secret)",
            );
        if (!failed("acp")) acp = acpConfig(a);
    } else if (role !== undefined) {
        if (raw.values.acp !== undefined) fail("acp", `is only for roles acp and hub (this site's role is ${role})`);
        if (secret("kubeconfig")) fail("kubeconfig", `is only for roles acp and hub (this site's role is ${role})`);
    }

    const artifacts = artifactsConfig(v.artifacts, raw, fail, failed);
    const prestage = prestageConfig(v.prestage ?? {}, fail, failed);

    if (problems.list.length) throw new ConfigError(problems.list);
    const builder = v.builder ?? {};
    return {
        site: { name: siteName!, role: role! },
        registry: { url: url!, namespace: v.registry.namespace ?? siteName!, username, password: secret("registryPassword") },
        images: { catalog: images.catalog ?? "images", select: images.select, channel: images.channel, pins, customizations },
        builder: { kind: builder.kind ?? "local", storage: builder.storage },
        hub: hub ? { stack: hub.stack, username: hub.username, password: secret("hubRegistryPassword") } : undefined,
        ...(onAcp ? { acp, kubeconfig: secret("kubeconfig"), sshPrivateKey: secret("sshPrivateKey"), webhookSecret: secret("webhookSecret") } : {}),
        artifacts,
        prestage,
    };
}

type Values = StackConfig;

/** The acp section as components take it (defaults are filled in by the schema). */
function acpConfig(a: NonNullable<Values["acp"]>): AcpConfig {
    const o = a.operators!;
    const operators = {} as AcpConfig["operators"];
    for (const name of ["virtualization", "pipelines", "gitops"] as const) {
        operators[name] = { channel: o[name]!.channel!, installPlanApproval: o[name]!.installPlanApproval ?? o.installPlanApproval! };
    }
    const vm = a.builderVm;
    let builderVm: AcpConfig["builderVm"];
    if (vm) {
        const [ns, name] = (vm.source.dataSource ?? "/").split("/");
        const source: BootSource = vm.source.registry ? { registry: vm.source.registry } : vm.source.http ? { http: vm.source.http } : { dataSource: { namespace: ns, name } };
        const svc = vm.service!;
        builderVm = {
            name: vm.name!,
            cpu: vm.cpu!,
            memory: vm.memory!,
            disk: vm.disk!,
            storageClass: vm.storageClass,
            packages: vm.packages!,
            ephemeral: vm.ephemeral!,
            sshUser: vm.sshUser!,
            source,
            sshPublicKey: vm.sshPublicKey,
            service: svc.type === "NodePort" ? { type: "NodePort", host: svc.host ?? "" } : { type: "LoadBalancer" },
        };
    }
    const p = a.pipeline;
    const r = a.registry!;
    const t = a.vmTemplates;
    return {
        namespace: a.namespace!,
        waitTimeoutSeconds: a.waitTimeoutSeconds!,
        operators,
        catalogSource: { name: o.source!, namespace: o.sourceNamespace! },
        registry: { mode: r.mode!, image: r.image!, htpasswdImage: r.htpasswdImage!, storage: r.storage!, storageClass: r.storageClass },
        mirror: a.mirror,
        builderVm,
        pipeline: p && {
            git: { url: p.git.url, revision: p.git.revision! },
            images: p.images,
            testMode: p.testMode!,
            toolImages: p.toolImages as ToolImages,
            workspaceSize: p.workspaceSize!,
            webhookHost: p.webhookHost,
        },
        vmTemplates: t && { images: t.images, storage: t.storage!, storageClass: t.storageClass, cpu: t.cpu!, memory: t.memory! },
    };
}

type Fail = (key: string, message: string) => void;

function artifactsConfig(a: Values["artifacts"], raw: RawConfig, fail: Fail, failed: (key: string) => boolean): ArtifactsConfig | undefined {
    const accessKey = raw.secrets.s3AccessKey;
    const secretKey = raw.secrets.s3SecretKey;
    if (raw.values.artifacts === undefined) {
        for (const k of ["s3AccessKey", "s3SecretKey"]) if (raw.secrets[k]) fail(k, "is set but the artifact store is not (set image-factory:artifacts, or remove it)");
        return undefined;
    }
    if (!a || typeof a !== "object") return undefined;
    const endpoint = failed("artifacts.endpoint") ? undefined : a.endpoint?.replace(/\/$/, "");
    if (a.kind === "s3-api" && a.endpoint === undefined) fail("artifacts.endpoint", 'is required when artifacts.kind is "s3-api"');
    const buckets = a.buckets as BucketNames;
    let namesValid = !failed("artifacts.buckets");
    for (const role of ["recipes", "bootImages", "prestage"] as const) {
        const name = buckets?.[role];
        const problem = typeof name === "string" ? bucketNameProblem(name) : undefined;
        if (problem) {
            fail(`artifacts.buckets.${role}`, problem);
            namesValid = false;
        }
    }
    if (namesValid && new Set(Object.values(buckets)).size !== 3) fail("artifacts.buckets", `must name three different buckets, got ${JSON.stringify(buckets)}`);
    if (!accessKey) fail("s3AccessKey", "is required when artifacts is set (pulumi config set --secret s3AccessKey, value on stdin)");
    if (!secretKey) fail("s3SecretKey", "is required when artifacts is set (pulumi config set --secret s3SecretKey, value on stdin)");
    return {
        kind: a.kind,
        endpoint,
        region: a.region!,
        // S3-compatible stores mostly want path-style; AWS wants virtual-host style.
        pathStyle: a.pathStyle ?? endpoint !== undefined,
        buckets,
        noncurrentVersionDays: a.noncurrentVersionDays!,
        forceDestroy: a.forceDestroy!,
        bootArtifacts: a.bootArtifacts!,
        accessKey: accessKey!,
        secretKey: secretKey!,
    };
}

function prestageConfig(p: NonNullable<Values["prestage"]>, fail: Fail, failed: (key: string) => boolean): SiteConfig["prestage"] {
    const disks: Record<string, PrestageDiskConfig> = {};
    for (const [name, d] of Object.entries(p.disks ?? {})) {
        const key = `prestage.disks.${name}`;
        if (!d || typeof d !== "object") continue;
        let size = 0;
        if (d.size !== undefined && !failed(`${key}.size`)) {
            try {
                size = parseSize(d.size);
                if (size % 512 !== 0) fail(`${key}.size`, `must be a multiple of 512 bytes, got ${size}`);
            } catch (e) {
                fail(`${key}.size`, (e as Error).message);
            }
        }
        for (const [set, refs] of Object.entries(d.contentSets ?? {})) {
            const setKey = `${key}.contentSets.${set}`;
            if (!SET_NAME.test(set) || RESERVED_NAMES.includes(set)) fail(setKey, `"${set}" is not a usable folder name (a-z, 0-9, . _ -; not ${RESERVED_NAMES.join(", ")})`);
            if (!Array.isArray(refs)) continue;
            for (const [i, ref] of refs.entries()) {
                if (typeof ref !== "string") continue;
                if (ref.includes("/")) {
                    try {
                        parseRef(ref);
                    } catch (e) {
                        fail(`${setKey}[${i}]`, (e as Error).message);
                    }
                } else if (!PATTERNS.dnsLabel.test(ref)) {
                    fail(`${setKey}[${i}]`, `must be a catalog image name or a full image reference (host/repository@sha256:… or :tag), got ${JSON.stringify(ref)}`);
                }
            }
        }
        for (const [i, f] of (d.extraFiles ?? []).entries()) {
            const top = typeof f?.path === "string" ? f.path.split("/")[0] : "";
            if (RESERVED_NAMES.includes(top) && !failed(`${key}.extraFiles[${i}].path`)) fail(`${key}.extraFiles[${i}].path`, `${f.path} is the partition's own`);
        }
        disks[name] = {
            size,
            format: d.format as DiskFormat,
            label: d.label!,
            filesystem: d.filesystem as Filesystem,
            headroom: d.headroom!,
            mountPoint: d.mountPoint!,
            contentSets: d.contentSets,
            extraFiles: d.extraFiles ?? [],
        };
    }
    return { dir: p.dir, disks };
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
    if (problems.length) throw new ConfigError(problems);
    return parseSiteConfig({ values, secrets });
}
