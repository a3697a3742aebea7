// The stack configuration (stacks/Pulumi.<site>.yaml), validated before any
// resource is registered. Every problem is reported at once, each naming its key.
//
// parseSiteConfig is pure: it takes the raw values (what pulumi.Config returns)
// so that unit tests can feed it bad input directly. loadSiteConfig reads them
// from the stack.
import * as pulumi from "@pulumi/pulumi";
import type { BootSource, BuilderVmInput } from "../components/acp/render/builder-vm";
import { DEFAULT_BUILDER_PACKAGES } from "../components/acp/render/builder-vm";
import { DEFAULT_WAIT_SECONDS } from "../components/acp/kube";
import { TEST_MODES, type TestMode, type ToolImages } from "../components/acp/render/pipeline";
import { OPERATOR_NAMES, OPERATORS, type OperatorName } from "../components/acp/render/services";
import { REGISTRY_MODES, type RegistryMode } from "../components/registry/render";
import { ARTIFACT_STORE_KINDS, DEFAULT_BUCKETS, type ArtifactStoreKind, type BucketNames } from "../components/storage/artifact-store";
import { bucketNameProblem } from "../components/storage/s3";
import { FILESYSTEMS, FORMATS, parseSize, type DiskFormat, type Filesystem } from "../components/prestage/layout";
import { DEFAULT_MOUNT_POINT, LABEL, PARTITION_PATH, RESERVED_NAMES, SET_NAME } from "../components/prestage/tooling";
import { parseRef } from "../components/registry/client";

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
    /** The ACP's services (roles acp and hub only). */
    acp?: AcpConfig;
    /** Pulumi secret (image-factory:kubeconfig): the site cluster's kubeconfig. Required for roles acp and hub. */
    kubeconfig?: pulumi.Output<string>;
    /** Pulumi secret (image-factory:sshPrivateKey): the key composes log in to the builder VM with. */
    sshPrivateKey?: pulumi.Output<string>;
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

const KNOWN_KEYS = ["site", "registry", "images", "builder", "hub", "acp", "artifacts", "prestage"];
const SECRET_KEYS = ["registryPassword", "hubRegistryPassword", "kubeconfig", "sshPrivateKey", "s3AccessKey", "s3SecretKey"];
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_PORT = /^(localhost|[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\])(:\d{1,5})?$/i;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const IMAGE = /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._/-]+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+=*( .*)?$/;
const GIT_URL = /^(https:\/\/|ssh:\/\/|git@)[^\s]+$/;
const HOST = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i;

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
        // A value that is there but wrong has been reported already.
        if (v === undefined && !this.problems.some((p) => p.startsWith(`${NAMESPACE}:${key}: `))) this.fail(key, "is required");
        return v;
    }
    list(key: string, v: unknown): unknown[] | undefined {
        if (v === undefined) return undefined;
        if (!Array.isArray(v)) {
            this.fail(key, "must be a list");
            return undefined;
        }
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
    integer(key: string, v: unknown, min: number, max: number): number | undefined {
        if (v === undefined) return undefined;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
            this.fail(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
            return undefined;
        }
        return v;
    }
    boolean(key: string, v: unknown): boolean | undefined {
        if (v === undefined) return undefined;
        if (typeof v !== "boolean") {
            this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
            return undefined;
        }
        return v;
    }
    oneOf<T extends string>(key: string, v: unknown, values: readonly T[]): T | undefined {
        return this.string(key, v, new RegExp(`^(${values.join("|")})$`), `must be one of ${values.map((x) => `"${x}"`).join(", ")}`) as T | undefined;
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
        const files = c.list(`${key}.files`, o.files);
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
    const hubStack = hubObj && c.required("hub.stack", c.string("hub.stack", hubObj.stack, /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be organization/project/stack"));
    const hubUser = c.string("hub.username", hubObj?.username);
    if (hubUser && !raw.secrets.hubRegistryPassword) c.fail("hubRegistryPassword", "is required when hub.username is set (pulumi config set --secret hubRegistryPassword ...)");
    if (hubObj) {
        // A mirroring site hosts exactly what the hub built and tested.
        if (Object.keys(pins).length) c.fail("images.pins", "a site that mirrors a hub releases the hub's tags; pin on the hub");
        if (Object.keys(customizations).length) c.fail("images.customizations", "a site that mirrors a hub hosts the hub's images as built; customize on the hub");
        if (channel) c.fail("images.channel", "a site that mirrors a hub copies the hub's tags; set the channel on the hub");
        if (role === "hub") c.fail("hub", "a hub does not mirror another hub");
    }

    const onAcp = role === "acp" || role === "hub";
    const roleKnown = role !== undefined;
    const kubeconfig = raw.secrets.kubeconfig;
    const sshPrivateKey = raw.secrets.sshPrivateKey;
    let acp: AcpConfig | undefined;
    if (onAcp) {
        if (!kubeconfig) c.fail("kubeconfig", `is required for role ${role}: the site cluster's kubeconfig (pulumi config set --secret kubeconfig < kubeconfig.yaml)`);
        // The registry is served through a Route on port 443.
        if (url && /:\d+$/.test(url)) c.fail("registry.url", `must be a host name without a port for role ${role} (the registry is served by an OpenShift Route), got ${JSON.stringify(url)}`);
        acp = parseAcpConfig(c, raw.values.acp ?? {}, role);
        if (acp?.registry.mode === "deployment" && !username) c.fail("registry.username", "is required with acp.registry.mode deployment (the registry Deployment serves with htpasswd credentials)");
        else if (acp?.pipeline && !username) c.fail("registry.username", "is required with acp.pipeline (the in-cluster pipeline pushes with registry.username and registryPassword)");
        if (acp?.builderVm && !sshPrivateKey) c.fail("sshPrivateKey", "is required with acp.builderVm: composes log in to the builder VM with it (pulumi config set --secret sshPrivateKey < id_ed25519)");
    } else if (roleKnown) {
        if (raw.values.acp !== undefined) c.fail("acp", `is only for roles acp and hub (this site's role is ${role})`);
        if (kubeconfig) c.fail("kubeconfig", `is only for roles acp and hub (this site's role is ${role})`);
    }

    const artifacts = parseArtifacts(c, raw);
    const prestage = parsePrestage(c, raw.values.prestage);

    if (c.problems.length) throw new ConfigError(c.problems);
    return {
        site: { name: siteName!, role },
        registry: { url: url!, namespace: namespace!, username, password },
        images: { catalog, select, channel, pins, customizations },
        builder: { kind: kind as "local", storage },
        hub: hubStack ? { stack: hubStack, username: hubUser, password: raw.secrets.hubRegistryPassword } : undefined,
        ...(onAcp ? { acp, kubeconfig, sshPrivateKey } : {}),
        artifacts,
        prestage,
    };
}

/** The `acp` section, with its defaults. */
function parseAcpConfig(c: Checker, value: unknown, role: Role): AcpConfig | undefined {
    const a = c.object("acp", value, ["namespace", "waitTimeoutSeconds", "operators", "registry", "mirror", "builderVm", "pipeline", "vmTemplates"]);
    if (!a) return undefined;
    const namespace = c.string("acp.namespace", a.namespace, NAME, "must be a DNS label (a-z, 0-9, -)") ?? "image-factory";
    const waitTimeoutSeconds = c.integer("acp.waitTimeoutSeconds", a.waitTimeoutSeconds, 10, 86_400) ?? DEFAULT_WAIT_SECONDS;

    const o = c.object("acp.operators", a.operators ?? {}, [...OPERATOR_NAMES, "source", "sourceNamespace", "installPlanApproval"]) ?? {};
    const approval = c.oneOf("acp.operators.installPlanApproval", o.installPlanApproval, ["Automatic", "Manual"] as const) ?? "Automatic";
    const operators = {} as AcpConfig["operators"];
    for (const name of OPERATOR_NAMES) {
        const spec = OPERATORS[name];
        const op = c.object(`acp.operators.${name}`, o[name] ?? {}, ["channel", "installPlanApproval"]) ?? {};
        operators[name] = {
            channel: c.string(`acp.operators.${name}.channel`, op.channel, spec.channels, `must be ${spec.channelHint} (a channel of ${spec.package})`) ?? spec.defaultChannel,
            installPlanApproval: c.oneOf(`acp.operators.${name}.installPlanApproval`, op.installPlanApproval, ["Automatic", "Manual"] as const) ?? approval,
        };
    }
    const catalogSource = {
        name: c.string("acp.operators.source", o.source, NAME, "must be the name of a CatalogSource") ?? "redhat-operators",
        namespace: c.string("acp.operators.sourceNamespace", o.sourceNamespace, NAME, "must be a namespace name") ?? "openshift-marketplace",
    };

    const r = c.object("acp.registry", a.registry ?? {}, ["mode", "image", "htpasswdImage", "storage", "storageClass"]) ?? {};
    const registry = {
        mode: c.oneOf("acp.registry.mode", r.mode, REGISTRY_MODES) ?? "internal",
        image: c.string("acp.registry.image", r.image, IMAGE, "must be an image reference host/repository[:tag][@digest]") ?? "docker.io/library/registry:2.8.3",
        htpasswdImage: c.string("acp.registry.htpasswdImage", r.htpasswdImage, IMAGE, "must be an image reference host/repository[:tag][@digest]") ?? "docker.io/library/httpd:2.4-alpine",
        storage: c.string("acp.registry.storage", r.storage, QUANTITY, 'must be a Kubernetes quantity such as "100Gi"') ?? "100Gi",
        storageClass: c.string("acp.registry.storageClass", r.storageClass, NAME, "must be a StorageClass name"),
    };

    let mirror: AcpConfig["mirror"];
    if (a.mirror !== undefined) {
        const m = c.object("acp.mirror", a.mirror, ["registry", "sources"]) ?? {};
        if (role === "hub") c.fail("acp.mirror", "is for disconnected sites (role acp): a hub is the mirror");
        const mreg = c.required("acp.mirror.registry", c.string("acp.mirror.registry", m.registry, HOST_PORT, "must be the hub registry's host[:port]"));
        const sources = c.required("acp.mirror.sources", c.stringList("acp.mirror.sources", m.sources, /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, "must be a registry host or repository path"));
        if (sources && !sources.length) c.fail("acp.mirror.sources", "must name at least one source registry");
        mirror = mreg && sources ? { registry: mreg, sources } : undefined;
    }

    let builderVm: AcpConfig["builderVm"];
    if (a.builderVm !== undefined) {
        const k = "acp.builderVm";
        const v = c.object(k, a.builderVm, ["name", "source", "cpu", "memory", "disk", "storageClass", "packages", "ephemeral", "sshUser", "sshPublicKey", "service"]) ?? {};
        const src = c.object(`${k}.source`, c.required(`${k}.source`, v.source), ["registry", "http", "dataSource"]);
        let source: BootSource | undefined;
        if (src) {
            const kinds = Object.keys(src);
            if (kinds.length !== 1) c.fail(`${k}.source`, `must have exactly one of registry, http, dataSource, got ${JSON.stringify(kinds)}`);
            else if (kinds[0] === "registry") {
                const u = c.string(`${k}.source.registry`, src.registry, /^docker:\/\/\S+$/, 'must be "docker://<image>" (a container disk)');
                source = u ? { registry: u } : undefined;
            } else if (kinds[0] === "http") {
                const u = c.string(`${k}.source.http`, src.http, /^https?:\/\/\S+$/, "must be an http(s) URL of a qcow2 or raw image");
                source = u ? { http: u } : undefined;
            } else {
                const ds = c.string(`${k}.source.dataSource`, src.dataSource, /^[a-z0-9-]+\/[a-z0-9.-]+$/, 'must be "<namespace>/<name>" of a CDI DataSource');
                source = ds ? { dataSource: { namespace: ds.split("/")[0], name: ds.split("/")[1] } } : undefined;
            }
        }
        const svc = c.object(`${k}.service`, v.service ?? {}, ["type", "host"]) ?? {};
        const serviceType = c.oneOf(`${k}.service.type`, svc.type, ["LoadBalancer", "NodePort"] as const) ?? "LoadBalancer";
        const host = c.string(`${k}.service.host`, svc.host, HOST, "must be a host name or address");
        if (serviceType === "NodePort" && !host) c.fail(`${k}.service.host`, "is required with service type NodePort: the address of a node composes reach");
        if (serviceType === "LoadBalancer" && host) c.fail(`${k}.service.host`, "is only for service type NodePort (a LoadBalancer has its own address)");
        const sshPublicKey = c.required(`${k}.sshPublicKey`, c.string(`${k}.sshPublicKey`, v.sshPublicKey, SSH_PUBLIC_KEY, "must be an OpenSSH public key line (ssh-ed25519 AAAA…)"));
        const fields = {
            name: c.string(`${k}.name`, v.name, NAME, "must be a DNS label (a-z, 0-9, -)") ?? "image-factory-builder",
            cpu: c.integer(`${k}.cpu`, v.cpu, 1, 128) ?? 4,
            memory: c.string(`${k}.memory`, v.memory, QUANTITY, 'must be a Kubernetes quantity such as "8Gi"') ?? "8Gi",
            disk: c.string(`${k}.disk`, v.disk, QUANTITY, 'must be a Kubernetes quantity such as "60Gi"') ?? "60Gi",
            storageClass: c.string(`${k}.storageClass`, v.storageClass, NAME, "must be a StorageClass name"),
            packages: c.stringList(`${k}.packages`, v.packages, /^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "must be a package name") ?? DEFAULT_BUILDER_PACKAGES,
            ephemeral: c.boolean(`${k}.ephemeral`, v.ephemeral) ?? false,
            sshUser: c.string(`${k}.sshUser`, v.sshUser, /^[a-z_][a-z0-9_-]{0,31}$/, "must be a user name") ?? "builder",
        };
        if (source && sshPublicKey) {
            builderVm = { ...fields, source, sshPublicKey, service: serviceType === "NodePort" ? { type: "NodePort", host: host ?? "" } : { type: "LoadBalancer" } };
        }
    }

    let pipeline: AcpConfig["pipeline"];
    if (a.pipeline !== undefined) {
        const k = "acp.pipeline";
        const p = c.object(k, a.pipeline, ["git", "images", "testMode", "toolImages", "workspaceSize", "webhookHost"]) ?? {};
        const g = c.object(`${k}.git`, c.required(`${k}.git`, p.git), ["url", "revision"]) ?? {};
        const gitUrl = c.required(`${k}.git.url`, c.string(`${k}.git.url`, g.url, GIT_URL, "must be an https://, ssh:// or git@ URL of the image definitions repository"));
        const revision = c.string(`${k}.git.revision`, g.revision, /^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "must be a branch name") ?? "main";
        const t = c.object(`${k}.toolImages`, p.toolImages ?? {}, ["git", "buildah", "skopeo", "oc", "bootcImageBuilder"]) ?? {};
        const tool = (name: keyof ToolImages, dflt: string) => c.string(`${k}.toolImages.${name}`, t[name], IMAGE, "must be an image reference host/repository[:tag][@digest]") ?? dflt;
        const fields = {
            images: c.stringList(`${k}.images`, p.images, NAME, "must be an image name"),
            testMode: c.oneOf(`${k}.testMode`, p.testMode, TEST_MODES) ?? "pod",
            toolImages: {
                git: tool("git", "docker.io/alpine/git:2.47.2"),
                buildah: tool("buildah", "quay.io/buildah/stable:v1.38"),
                skopeo: tool("skopeo", "quay.io/skopeo/stable:v1.17"),
                oc: tool("oc", "quay.io/openshift/origin-cli:4.17"),
                bootcImageBuilder: tool("bootcImageBuilder", "quay.io/centos-bootc/bootc-image-builder:latest"),
            },
            workspaceSize: c.string(`${k}.workspaceSize`, p.workspaceSize, QUANTITY, 'must be a Kubernetes quantity such as "20Gi"') ?? "20Gi",
            webhookHost: c.string(`${k}.webhookHost`, p.webhookHost, HOST, "must be a host name"),
        };
        if (gitUrl) pipeline = { git: { url: gitUrl, revision }, ...fields };
    }

    let vmTemplates: AcpConfig["vmTemplates"];
    if (a.vmTemplates !== undefined) {
        const k = "acp.vmTemplates";
        const t = c.object(k, a.vmTemplates, ["images", "storage", "storageClass", "cpu", "memory"]) ?? {};
        vmTemplates = {
            images: c.stringList(`${k}.images`, t.images, NAME, "must be an image name"),
            storage: c.string(`${k}.storage`, t.storage, QUANTITY, 'must be a Kubernetes quantity such as "30Gi"') ?? "30Gi",
            storageClass: c.string(`${k}.storageClass`, t.storageClass, NAME, "must be a StorageClass name"),
            cpu: c.integer(`${k}.cpu`, t.cpu, 1, 128) ?? 2,
            memory: c.string(`${k}.memory`, t.memory, QUANTITY, 'must be a Kubernetes quantity such as "4Gi"') ?? "4Gi",
        };
    }
    return { namespace, waitTimeoutSeconds, operators, catalogSource, registry, mirror, builderVm, pipeline, vmTemplates };
}

function parseArtifacts(c: Checker, raw: RawConfig): ArtifactsConfig | undefined {
    const a = c.object("artifacts", raw.values.artifacts, ["kind", "endpoint", "region", "pathStyle", "buckets", "noncurrentVersionDays", "forceDestroy", "bootArtifacts"]);
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
    const bootArtifacts = c.stringList("artifacts.bootArtifacts", a.bootArtifacts, NAME, "must be an image name") ?? [];
    return { kind, endpoint, region, pathStyle, buckets, noncurrentVersionDays: days, forceDestroy, bootArtifacts, accessKey: accessKey!, secretKey: secretKey! };
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
        const extraFiles = c.list(`${key}.extraFiles`, d.extraFiles) ?? [];
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
