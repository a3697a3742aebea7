// The outputs contract (schemaVersion 1) and the typed reader other teams use
// to consume a site's outputs through StackReference. Consumers import it by
// package name:
//
//   import { SiteReference } from "@image-factory/components/contract";
//   const site = new SiteReference("acme/image-factory/site-a");
//   export const homepage = site.imageRef("homepage");   // <registry>/<repo>@sha256:…
//
// Fields may be added within a schemaVersion; renaming or removing one makes a new version.
import * as pulumi from "@pulumi/pulumi";
import { FactoryError } from "../errors";

export const SCHEMA_VERSION = 1;

/** A VM template the ACP serves for a released disk image (output vmTemplates.<image>). */
export interface VmTemplateOutput {
    namespace: string;
    template: string;
    dataSource: string;
    dataVolume: string;
    version: string;
    /** The container disk the DataVolume imports, by digest. */
    disk: string;
}

export interface ImageOutput {
    /** <registry>/<repository>@sha256:… — always by digest. */
    ref: string;
    digest: string;
    /** The tags that point at `digest`: the version, latest, and the channel if any. */
    tags: string[];
    version: string;
    /** The catalog image this one is built on, or null for a base image. */
    parent: string | null;
    /** sha256 of the image's rendered definition (with site customizations and parent). */
    definitionHash: string;
    /** The image's tests on the build the pipeline last tested (a pin may release an earlier one). */
    tests?: { passed: number; total: number };
    /** Bootable images: the boot test of the build the pipeline last tested (target reached, failed units, seconds). */
    boot?: { targetReached: boolean; target: string; failedUnits: number; seconds: number; accel: "kvm" | "tcg"; probes: { passed: number; total: number } };
    /** Bootable images: the VM disk made from that build, with the kernel and initrd that boot it. */
    vmDisk?: VmDiskOutput;
    /** With a fleet signing key: the sigstore signature of `digest` (host/repo:sha256-<hex>.sig) and that manifest's digest (null: signed by an earlier up, not recorded by this one). */
    signature?: { ref: string; digest: string | null };
    /** Signed attestations of `digest` (SBOM, provenance) as DSSE envelopes: host/repo:sha256-<hex>.att. */
    attestations?: { ref: string; digest: string | null };
    /** The SBOM attested for `digest` (null when a pin releases a build attested by an earlier up). */
    sbom?: { format: string; predicateType: string; packages: number; sha256: string; attestation: string } | null;
}

export interface VmFileOutput {
    path: string;
    sha256: string;
    size: number;
    /** Where the artifact store holds it (the boot-images bucket), when the site has one. */
    url?: string;
}

/** A bootable image's VM disk (GPT, ext4 root on partition 1) and what boots it (direct kernel boot). */
export interface VmDiskOutput {
    /** Absolute path of the disk on the deploying machine. */
    path: string;
    /** Where the artifact store holds it (the boot-images bucket), when the site has one. */
    url?: string;
    format: "raw" | "qcow2";
    sha256: string;
    /** Size of the disk file in bytes. */
    size: number;
    virtualSize: number;
    /** The image digest the disk was made from. */
    digest: string;
    kernel: VmFileOutput;
    initrd: VmFileOutput;
    /** The kernel command line that boots the disk, e.g. "root=/dev/vda1 rootfstype=ext4 rw console=ttyS0". */
    kernelArgs: string;
    /** manifest.json: every file's sha256 and size, the kernel version, the partition. */
    manifest: VmFileOutput;
}


/** The fleet key images are signed with (stack output `signing`). */
export interface SigningOutput {
    /** PEM (SPKI, ECDSA P-256): verify with `cosign verify --key`, or in a containers policy (`sigstoreSigned`). */
    publicKey: string;
    /** sha256 of the key's DER encoding. */
    keyFingerprint: string;
}

/** The artifact store's buckets, by role, and where they are. */
export interface BucketsOutput {
    /** How the buckets are managed: "aws" (the aws plugin) or "s3-api". */
    kind: string;
    /** The S3 endpoint, or null for AWS S3 itself. */
    endpoint: string | null;
    region: string;
    pathStyle: boolean;
    /** Rendered recipes (.tgz); `ims` by default. */
    recipes: string;
    /** Boot artifact sets; `boot-images` by default. */
    bootImages: string;
    /** Pre-staged and composed disks; `prestage` by default. */
    prestage: string;
}

export interface BootObjectOutput {
    /** Object key in the boot-images bucket. */
    key: string;
    url: string;
    size: number;
    sha256: string;
}

/** A released image's boot artifact set under <bootImages>/<image>/<digest>/. */
export interface BootArtifactsOutput {
    prefix: string;
    digest: string;
    kernelVersion: string;
    kernel: BootObjectOutput;
    initrd: BootObjectOutput;
    rootfs: BootObjectOutput;
    manifest: BootObjectOutput;
    /**
     * With a fleet signing key: `manifest.json.sig` beside the manifest, its detached
     * signature (ECDSA P-256 / SHA-256, DER) by the key `keyFingerprint` names. null: not signed.
     */
    manifestSignature?: (BootObjectOutput & { keyFingerprint: string }) | null;
}

/** A factory pre-staged disk artifact. */
export interface DiskOutput {
    /** Absolute path of the artifact on the deploying machine. */
    path: string;
    /** Where the artifact store holds it (the prestage bucket), when the site has one. */
    url?: string;
    format: "raw" | "qcow2";
    /** sha256 of the artifact file (hex). */
    sha256: string;
    /** Size of the artifact file in bytes (raw: the disk size). */
    size: number;
    /** Bytes the artifact occupies (it is sparse). */
    allocatedSize: number;
    /** The data partition: first and last sector (512 B), inclusive; GPT label; filesystem. */
    partition: { start: number; end: number; label: string; filesystem: "xfs" | "ext4" };
    /** Each image on the partition: its ref by digest and its archive there. */
    manifest: Array<{ contentSet: string; ref: string; digest: string; archive: string; archiveSha256: string }>;
    /** Ignition config fragment (spec 3.2.0) that installs the units loading the archives. */
    ignition: string;
    /**
     * With a fleet signing key: the partition's manifest.json copied beside the disk file
     * (`manifestPath`) and its detached signature (`path`, ECDSA P-256 / SHA-256, DER; also
     * manifest.json.sig on the partition). Verify: `openssl dgst -sha256 -verify <signing.publicKey>
     * -signature <path> <manifestPath>`. null: the disk is not signed. Absent: made before signing existed.
     */
    manifestSignature?: { path: string; manifestPath: string; manifestSha256: string; keyFingerprint: string } | null;
}

/** A hub's rollout: per site group (in order), the digest its channel tag points at per image and why. */
export interface RolloutOutput {
    soakSeconds: number;
    groups: Array<{ name: string; channel: string; sites: string[]; images: Record<string, RolloutImageOutput> }>;
}

export interface RolloutImageOutput {
    /** <hub registry>/<repository>@sha256:…, or null while the group has no digest of this image. */
    ref: string | null;
    digest: string | null;
    /** The version and definition hash of that build, when the hub knows them. */
    version: string | null;
    definitionHash: string | null;
    /** current, promote, waiting, halted or pinned. */
    status: string;
    reason: string;
    /** Waiting for the soak time: when it passes (ISO 8601). */
    waitUntil?: string;
}

/** What a site of a rollout group reports to its hub. */
export interface RolloutReportOutput {
    group: string;
    /** image → the digest released and since when (ISO 8601). */
    images: Record<string, { digest: string; since: string }>;
    /** The site's health probe, or null without one. */
    health: { healthy: boolean; checkedAt: string; detail: string } | null;
}

export interface StackOutputsV1 {
    schemaVersion: 1;
    site: { name: string; role: string };
    registry: { url: string };
    images: Record<string, ImageOutput>;
    /** Roles acp and hub: the VM template of each released disk image, by image name. */
    vmTemplates: Record<string, VmTemplateOutput>;
    /** null when the site has no artifact store. */
    buckets: BucketsOutput | null;
    /** Boot artifact sets of released images, by image name. */
    bootArtifacts: Record<string, BootArtifactsOutput>;
    /** Factory pre-staged disks, by name. */
    disks: Record<string, DiskOutput>;
    /** A hub with rollout groups: each group's channel (absent from stacks deployed before it was added). */
    rollout?: RolloutOutput | null;
    /** A site in a rollout group: its released digests, since when, and its health. */
    rolloutReport?: RolloutReportOutput | null;
    /** The fleet key the images are signed with; null when the site signs nothing. */
    signing?: SigningOutput | null;
}

export class ContractError extends FactoryError {
    constructor(message: string) {
        super(message);
        this.name = "ContractError";
    }
}

/** Validates a stack's outputs against contract v1 (pure; used by SiteReference). */
export function checkContract(stack: string, outputs: Record<string, unknown>): StackOutputsV1 {
    const v = outputs.schemaVersion;
    if (v === undefined) throw new ContractError(`${stack} has no schemaVersion output: it is not an image-factory site stack (or it has never been deployed)`);
    if (v !== SCHEMA_VERSION) {
        throw new ContractError(
            `${stack} publishes outputs schemaVersion ${JSON.stringify(v)}, but this reader understands ${SCHEMA_VERSION}; ` +
                (typeof v === "number" && v > SCHEMA_VERSION ? "upgrade the reader (@image-factory/components/contract)" : "redeploy that stack with a current image-factory"),
        );
    }
    for (const k of ["site", "registry", "images"]) {
        if (typeof outputs[k] !== "object" || outputs[k] === null) throw new ContractError(`${stack}: output ${k} is missing or not an object (contract v${SCHEMA_VERSION})`);
    }
    return outputs as unknown as StackOutputsV1;
}

export class SiteReference {
    readonly stack: pulumi.StackReference;
    /** All outputs, checked against the contract. */
    readonly outputs: pulumi.Output<StackOutputsV1>;

    constructor(readonly name: string, opts?: pulumi.CustomResourceOptions) {
        this.stack = new pulumi.StackReference(name, undefined, opts);
        this.outputs = pulumi
            .all([this.stack.requireOutput("schemaVersion"), this.stack.outputs])
            .apply(([, all]) => checkContract(name, all as Record<string, unknown>));
    }

    /** One image's entry; an image the site does not publish is an error naming those it does. */
    image(image: string): pulumi.Output<ImageOutput> {
        return this.outputs.apply((o) => {
            const img = o.images[image];
            if (!img) throw new ContractError(`${this.name} publishes no image "${image}" (it has: ${Object.keys(o.images).sort().join(", ") || "none"})`);
            return img;
        });
    }

    /** <registry>/<repository>@sha256:… — always by digest. */
    imageRef(image: string): pulumi.Output<string> {
        return this.image(image).apply((i) => i.ref);
    }

    get registryUrl(): pulumi.Output<string> {
        return this.outputs.apply((o) => o.registry.url);
    }
}
