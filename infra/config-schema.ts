// The schema of the stack configuration (image-factory:* in stacks/Pulumi.<site>.yaml),
// one section per key. Defaults live here, so editors show them; the rules that
// span keys or need secrets are in config.ts. Published as
// schemas/stack-config.schema.json (npm run schemas).
import { DEFAULT_BUILDER_PACKAGES, DEFAULT_WAIT_SECONDS, type OPERATOR_NAMES, OPERATORS, TEST_MODES } from "../components/acp";
import { Customizations } from "../components/images";
import { DEFAULT_MOUNT_POINT, FILESYSTEMS, FORMATS, LABEL, PARTITION_PATH } from "../components/prestage";
import { REGISTRY_MODES } from "../components/registry";
import { exactlyOne, MapOf, OneOf, Pattern, PATTERNS, type Static, Strict, Type, Whole } from "../components/schema";
import { ARTIFACT_STORE_KINDS } from "../components/storage";

export const NAMESPACE = "image-factory";
export const ROLES = ["local", "acp", "hub"] as const;
export type Role = (typeof ROLES)[number];

const HOST_PORT = /^(localhost|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:]+\])(:\d{1,5})?$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

const DnsLabel = (hint = "a DNS label (a-z, 0-9, -)", options = {}) => Pattern(PATTERNS.dnsLabel, hint, options);
const ImageNames = Type.Array(DnsLabel("an image name"));
const Quantity = (example: string) => Pattern(QUANTITY, `a Kubernetes quantity such as "${example}"`, { default: example });
const ImageRef = (dflt: string) => Pattern(PATTERNS.imageRef, "an image reference host/repository[:tag][@digest]", { default: dflt });
const StorageClass = DnsLabel("a StorageClass name");
const Approval = OneOf(["Automatic", "Manual"] as const);

export const SiteSection = Strict({ name: DnsLabel(), role: OneOf(ROLES) });

export const RegistrySection = Strict({
    url: Pattern(HOST_PORT, "host[:port] without a scheme", { description: "host[:port] of the registry that hosts this site's images." }),
    namespace: Type.Optional(
        Pattern(/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, "a repository path", { description: "Images go to <url>/<namespace>/<image>. Default: the site name." }),
    ),
    username: Type.Optional(Type.String({ description: "With the secret image-factory:registryPassword." })),
});

export const ImagesSection = Strict(
    {
        catalog: Type.Optional(Pattern(/^[^/].*$/, "a folder relative to the project root", { default: "images" })),
        select: Type.Optional(Type.Array(DnsLabel("an image name"), { description: "Which catalog images this site builds (with their ancestors). Default: all." })),
        channel: Type.Optional(Pattern(PATTERNS.tag, "a valid tag", { description: 'A moving tag besides `latest`, e.g. "stable" or "canary".' })),
        pins: Type.Optional(
            MapOf(Pattern(new RegExp(`${PATTERNS.tag.source}|${PATTERNS.digest.source}`), "a version or a sha256 digest"), undefined, {
                default: {},
                description: "Rollback: image name → an earlier version or a sha256 digest that its tags point at.",
            }),
        ),
        customizations: Type.Optional(Customizations),
    },
    { default: {} },
);

export const BuilderSection = Strict(
    {
        kind: Type.Optional(OneOf(["local"] as const, { default: "local" })),
        storage: Type.Optional(Pattern(/^\//, "an absolute path", { description: "containers-storage folder for buildah (vfs driver). Default: the user cache." })),
        reuseBuilds: Type.Optional(
            Type.Boolean({
                default: true,
                description:
                    "Push the build of the same definition, version, parent and source kept on this machine (the build cache in <cache>/builds) instead of building it again. false: always build.",
            }),
        ),
    },
    { default: {} },
);

export const HubSection = Strict({
    stack: Pattern(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "organization/project/stack", { description: "The hub's stack, read with StackReference." }),
    username: Type.Optional(Type.String({ description: "With the secret image-factory:hubRegistryPassword." })),
    group: Type.Optional(DnsLabel("a rollout group name of the hub", { description: "Follow this rollout group's channel on the hub (image-factory:rollout.groups there)." })),
    healthProbe: Type.Optional(
        Pattern(/^https?:\/\/\S+$/, "an http(s) URL", { description: "With group: answers 2xx when this site is healthy; checked on each release and refresh, reported to the hub." }),
    ),
});

const STACK = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export const RolloutSection = Strict({
    soak: Type.Optional(
        Type.Union([Pattern(/^\d+(s|m|h|d)$/, "a duration such as 30m, 2h or 1d"), Type.Integer({ minimum: 0 })], {
            hint: "a duration such as 30m, 2h or 1d, or seconds",
            default: "1h",
            description: "How long every site of a group must run a digest healthy before the next group gets it.",
        }),
    ),
    health: Type.Optional(
        Strict(
            {
                tests: Type.Optional(Type.Boolean({ default: true, description: "Every test of the digest passed." })),
                boot: Type.Optional(Type.Boolean({ default: true, description: "The boot test reached its target (images that report one)." })),
                probe: Type.Optional(
                    Type.Boolean({ default: false, description: "Every site must report a healthy probe (hub.healthProbe); without it, a probe is checked only where a site has one." }),
                ),
            },
            { default: {} },
        ),
    ),
    groups: Type.Array(
        Strict({
            name: DnsLabel("a group name (a DNS label; it is the group's channel tag)"),
            sites: Type.Array(Pattern(STACK, "organization/project/stack"), { minItems: 1, hint: "a list naming at least one site stack" }),
            pins: Type.Optional(MapOf(Pattern(PATTERNS.digest, "a sha256 digest"), undefined, { description: "Rollback: image → the digest this group's channel is pinned to." })),
        }),
        { minItems: 1, hint: "a list of at least one group, in rollout order", description: "Site groups in rollout order, e.g. canary, wave-1, rest." },
    ),
});

const Operator = (name: (typeof OPERATOR_NAMES)[number]) =>
    Strict(
        {
            channel: Type.Optional(Pattern(OPERATORS[name].channels, `${OPERATORS[name].channelHint} (a channel of ${OPERATORS[name].package})`, { default: OPERATORS[name].defaultChannel })),
            installPlanApproval: Type.Optional(Approval),
        },
        { default: {} },
    );

export const AcpSection = Strict({
    namespace: Type.Optional(DnsLabel(undefined, { default: "image-factory" })),
    waitTimeoutSeconds: Type.Optional(
        Whole(10, 86_400, { default: DEFAULT_WAIT_SECONDS, description: "How long `up` waits for an operator to install, HyperConverged to be available, a VM to be Ready, a disk to import." }),
    ),
    operators: Type.Optional(
        Strict(
            {
                virtualization: Type.Optional(Operator("virtualization")),
                pipelines: Type.Optional(Operator("pipelines")),
                gitops: Type.Optional(Operator("gitops")),
                source: Type.Optional(DnsLabel("the name of a CatalogSource", { default: "redhat-operators" })),
                sourceNamespace: Type.Optional(DnsLabel("a namespace name", { default: "openshift-marketplace" })),
                installPlanApproval: Type.Optional(OneOf(["Automatic", "Manual"] as const, { default: "Automatic" })),
            },
            { default: {} },
        ),
    ),
    registry: Type.Optional(
        Strict(
            {
                mode: Type.Optional(OneOf(REGISTRY_MODES, { default: "internal" })),
                image: Type.Optional(ImageRef("docker.io/library/registry:2.8.3")),
                htpasswdImage: Type.Optional(ImageRef("docker.io/library/httpd:2.4-alpine")),
                storage: Type.Optional(Quantity("100Gi")),
                storageClass: Type.Optional(StorageClass),
            },
            { default: {} },
        ),
    ),
    mirror: Type.Optional(
        Strict({
            registry: Pattern(HOST_PORT, "the hub registry's host[:port]"),
            sources: Type.Array(Pattern(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, "a registry host or repository path"), { minItems: 1, hint: "a list naming at least one source registry" }),
        }),
    ),
    builderVm: Type.Optional(
        Strict({
            name: Type.Optional(DnsLabel(undefined, { default: "image-factory-builder" })),
            source: Strict(
                {
                    registry: Type.Optional(Pattern(/^docker:\/\/\S+$/, '"docker://<image>" (a container disk)')),
                    http: Type.Optional(Pattern(/^https?:\/\/\S+$/, "an http(s) URL of a qcow2 or raw image")),
                    dataSource: Type.Optional(Pattern(/^[a-z0-9-]+\/[a-z0-9.-]+$/, '"<namespace>/<name>" of a CDI DataSource')),
                },
                exactlyOne(["registry", "http", "dataSource"], "needs exactly one of registry, http, dataSource"),
            ),
            cpu: Type.Optional(Whole(1, 128, { default: 4 })),
            memory: Type.Optional(Quantity("8Gi")),
            disk: Type.Optional(Quantity("60Gi")),
            storageClass: Type.Optional(StorageClass),
            packages: Type.Optional(Type.Array(Pattern(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "a package name"), { default: DEFAULT_BUILDER_PACKAGES })),
            ephemeral: Type.Optional(Type.Boolean({ default: false })),
            sshUser: Type.Optional(Pattern(/^[a-z_][a-z0-9_-]{0,31}$/, "a user name", { default: "builder" })),
            sshPublicKey: Pattern(PATTERNS.sshPublicKey, "an OpenSSH public key line (ssh-ed25519 AAAA…)"),
            composes: Type.Optional(
                Type.Array(DnsLabel("an image name"), {
                    default: [],
                    description: "Catalog images built on the builder VM (composes) instead of on the machine that runs `up`; each needs a catalog parent.",
                }),
            ),
            service: Type.Optional(
                Strict(
                    {
                        type: Type.Optional(OneOf(["LoadBalancer", "NodePort"] as const, { default: "LoadBalancer" })),
                        host: Type.Optional(Pattern(HOST, "a host name or address", { description: "With type NodePort: the address of a node composes reach." })),
                    },
                    { default: {} },
                ),
            ),
        }),
    ),
    pipeline: Type.Optional(
        Strict({
            git: Strict({
                url: Pattern(/^(https:\/\/|ssh:\/\/|git@)[^\s]+$/, "an https://, ssh:// or git@ URL of the image definitions repository"),
                revision: Type.Optional(Pattern(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "a branch name", { default: "main" })),
            }),
            images: Type.Optional(ImageNames),
            testMode: Type.Optional(OneOf(TEST_MODES, { default: "pod" })),
            toolImages: Type.Optional(
                Strict(
                    {
                        git: Type.Optional(ImageRef("docker.io/alpine/git:2.47.2")),
                        buildah: Type.Optional(ImageRef("quay.io/buildah/stable:v1.38")),
                        skopeo: Type.Optional(ImageRef("quay.io/skopeo/stable:v1.17")),
                        oc: Type.Optional(ImageRef("quay.io/openshift/origin-cli:4.17")),
                        bootcImageBuilder: Type.Optional(ImageRef("quay.io/centos-bootc/bootc-image-builder:latest")),
                    },
                    { default: {} },
                ),
            ),
            workspaceSize: Type.Optional(Quantity("20Gi")),
            webhookHost: Type.Optional(Pattern(HOST, "a host name", { description: "Exposes the EventListener by a Route on this host." })),
        }),
    ),
    vmTemplates: Type.Optional(
        Strict({
            images: Type.Optional(ImageNames),
            storage: Type.Optional(Quantity("30Gi")),
            storageClass: Type.Optional(StorageClass),
            cpu: Type.Optional(Whole(1, 128, { default: 2 })),
            memory: Type.Optional(Quantity("4Gi")),
        }),
    ),
});

export const ArtifactsSection = Strict({
    kind: OneOf(ARTIFACT_STORE_KINDS, { description: '"aws": @pulumi/aws with an explicit provider; "s3-api": buckets through the S3 API.' }),
    endpoint: Type.Optional(Pattern(/^https?:\/\/[^/\s]+\/?$/, "http(s)://host[:port]", { description: "Unset means AWS S3 itself (kind aws only)." })),
    region: Type.Optional(Pattern(/^[a-z0-9-]{1,64}$/, "a region name such as us-east-1", { default: "us-east-1" })),
    pathStyle: Type.Optional(Type.Boolean({ description: "Default: true with an endpoint (S3-compatible stores), false for AWS." })),
    buckets: Type.Optional(
        Strict(
            {
                recipes: Type.Optional(Type.String({ default: "ims" })),
                bootImages: Type.Optional(Type.String({ default: "boot-images" })),
                prestage: Type.Optional(Type.String({ default: "prestage" })),
            },
            { default: {} },
        ),
    ),
    noncurrentVersionDays: Type.Optional(Type.Integer({ minimum: 1, hint: "a whole number of days > 0", default: 30 })),
    forceDestroy: Type.Optional(Type.Boolean({ default: false })),
    bootArtifacts: Type.Optional(Type.Array(DnsLabel("an image name"), { default: [], description: "Images whose boot artifact set is published to the boot-images bucket." })),
});

export const PrestageDisk = Strict({
    size: Type.Union([Type.String(), Type.Integer()], { hint: "a size such as 8GiB, 512MiB or 1073741824", description: 'Disk size: "120GiB", "8G" or bytes.' }),
    format: Type.Optional(OneOf(FORMATS, { default: "raw" })),
    label: Type.Optional(Pattern(LABEL, "1-12 characters (letters, digits, . _ -)", { default: "data" })),
    filesystem: Type.Optional(OneOf(FILESYSTEMS, { default: "xfs" })),
    headroom: Type.Optional(Type.Number({ minimum: 0, maximum: 1000, hint: "a percentage from 0 to 1000", default: 10, description: "Free space on top of the content, percent." })),
    mountPoint: Type.Optional(Pattern(/^\/[A-Za-z0-9._/-]+$/, "an absolute path", { default: DEFAULT_MOUNT_POINT })),
    contentSets: MapOf(Type.Array(Type.String()), undefined, { description: "Folder → catalog image names (the released image, by digest) or full image references." }),
    extraFiles: Type.Optional(
        Type.Array(
            Strict(
                { path: Pattern(PARTITION_PATH, "a relative path on the partition"), content: Type.Optional(Type.String()), source: Type.Optional(Type.String()) },
                exactlyOne(["content", "source"], "needs exactly one of content and source"),
            ),
            { default: [] },
        ),
    ),
});

export const PrestageSection = Strict(
    {
        dir: Type.Optional(Pattern(/^\//, "an absolute path", { description: "Folder for disk artifacts. Default: <project>/.local/artifacts/disks." })),
        disks: Type.Optional(MapOf(PrestageDisk, { pattern: PATTERNS.dnsLabel, hint: "a DNS label (a-z, 0-9, -)" }, { default: {} })),
    },
    { default: {} },
);

export const RetentionSection = Strict({
    keepLast: Type.Optional(Whole(1, 1000, { default: 10, description: "Keep this many of each repository's newest builds; older ones go unless something references them." })),
    repositories: Type.Optional(MapOf(Strict({ keepLast: Whole(1, 1000) }), { pattern: PATTERNS.dnsLabel, hint: "an image name" }, { default: {}, description: "Per image: its own keepLast." })),
    stacks: Type.Optional(
        Type.Array(Pattern(STACK, "organization/project/stack"), {
            default: [],
            description: "More fleet stacks whose outputs protect every digest they mention (the rollout's sites always do).",
        }),
    ),
});

export const BootSection = Strict(
    {
        enabled: Type.Optional(Type.Boolean({ default: true, description: "false: release without the boot gate (per image: the catalog's boot.test: false)." })),
        dir: Type.Optional(Pattern(/^\//, "an absolute path", { description: "Folder for VM disks, kernels, initrds, manifests and serial logs. Default: <project>/.local/artifacts/vm-disks." })),
        format: Type.Optional(OneOf(FORMATS, { default: "qcow2" })),
        diskSize: Type.Optional(Pattern(/^\d+(MiB|GiB)$/, 'a size in MiB or GiB, such as "2GiB"', { default: "2GiB", description: "Virtual size of each VM disk; the root filesystem fills it." })),
        timeoutSeconds: Type.Optional(Whole(30, 7200, { default: 900, description: "Time limit of one boot (a catalog image's boot.timeoutSeconds wins)." })),
        memoryMiB: Type.Optional(Whole(256, 65536, { default: 1024 })),
        accel: Type.Optional(OneOf(["auto", "kvm", "tcg"] as const, { default: "auto", description: "auto: KVM when a guest runs on it, else TCG." })),
    },
    { default: {}, description: "The boot gate: bootable images are made into VM disks and booted in qemu before release." },
);

export const SigningSection = Strict({
    publicKey: Type.String({ description: "The fleet's public key (PEM, ECDSA P-256): images are signed with its private half (the secret image-factory:signingKey) and devices trust only it." }),
    devicePolicy: Type.Optional(Type.Boolean({ default: true, description: "Ship the containers policy that accepts only this key for the site's registry in the root images." })),
});

/** The plain (not secret) keys, each a section. */
export const StackConfig = Strict({
    site: SiteSection,
    registry: RegistrySection,
    images: Type.Optional(ImagesSection),
    builder: Type.Optional(BuilderSection),
    hub: Type.Optional(HubSection),
    acp: Type.Optional(AcpSection),
    artifacts: Type.Optional(ArtifactsSection),
    boot: Type.Optional(BootSection),
    prestage: Type.Optional(PrestageSection),
    rollout: Type.Optional(RolloutSection),
    retention: Type.Optional(RetentionSection),
    signing: Type.Optional(SigningSection),
});
export type StackConfig = Static<typeof StackConfig>;

/** Keys that are only ever set with `pulumi config set --secret`. */
export const SECRET_KEYS = ["registryPassword", "hubRegistryPassword", "kubeconfig", "sshPrivateKey", "s3AccessKey", "s3SecretKey", "webhookSecret", "signingKey"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];
