// ImagePipeline: for each selected image, parents first,
//   ImageBuild (push by digest) → ImageTest → [VmDisk → BootTest] → [ImageSign] → ImageRelease (move tags)
// Bootable images (a kernel in the chain, catalog `boot`) are made into a VM
// disk and booted before release; with a fleet key, what passed the gates is
// signed and attested. For the ACP's VM templates, a booted (and signed) disk
// is also pushed as a KubeVirt container disk (ContainerDisk, <image>-disk). A child builds on its parent's TESTED (booted, signed)
// digest, so a failing test or boot stops the image's release and every
// descendant's build.
import * as pulumi from "@pulumi/pulumi";
import type { ImageOutput, VmDiskOutput } from "../contract";
import { isDigest, type RegistryAuth } from "../registry/client";
import { type BuildRecord, buildLabels, type ContextFile } from "./build.provider";
import { CatalogError } from "./catalog";
import type { ResolvedImage } from "./definition";
import type { Accel, BootProbe } from "./boot-test.provider";
import { BootTest, ContainerDisk, ImageBuild, ImageRelease, ImageTest, VmDisk } from "./resources";
import type { DiskFormat } from "../prestage/layout";
import { ImageSign } from "../supply-chain/sign";

/** The boot gate's settings (stack config image-factory:boot). */
export interface BootSettings {
    /** Folder for the VM disks, their kernels, initrds, manifests and serial logs. */
    dir: string;
    format: DiskFormat;
    /** Virtual size of each VM disk, e.g. "2GiB". */
    size: string;
    /** Time limit of one boot, unless the catalog's boot.timeoutSeconds says otherwise. */
    timeoutSeconds: number;
    memoryMiB: number;
    accel: Accel;
}

export interface ImagePipelineArgs {
    /** Resolved images in build order (see resolveImages). */
    images: Map<string, ResolvedImage>;
    registry: string;
    /** Repository prefix: <registry>/<namespace>/<image>. */
    namespace: string;
    auth?: pulumi.Input<RegistryAuth>;
    channel?: string;
    /** Image → version or digest to release instead of the latest build. */
    pins: Record<string, string>;
    storage: string;
    cacheDir: string;
    /** false: build every image again rather than push the kept build of the same definition on the same parent (the build cache). */
    reuseBuilds?: boolean;
    /** Boot-test bootable images before release; without it nothing is booted. */
    boot?: BootSettings;
    /** When a refresh of the root images was asked (`npm run up -- --refresh-bases`), in ms since the epoch. */
    refreshRequestedAt?: number;
    /** The fleet key: what passed the gates is signed and attested (SBOM, provenance) before release; children build only on a verified parent. */
    signing?: {
        /** Pulumi secret: the private key (PEM). */
        key: pulumi.Input<string>;
        /** Its public half (PEM). */
        publicKey: string;
        /** The definitions' commit, recorded in the provenance. */
        commit: pulumi.Input<string>;
    };
    /**
     * Images whose booted VM disk is also pushed as a KubeVirt container disk to
     * <registry>/<namespace>/<image>-disk (tagged with the version), for VM templates;
     * those without a boot gate (not bootable, or no `boot`) have none.
     */
    containerDisks?: string[];
    /** Builds these images elsewhere (the ACP's builder VM): the rest build on this machine. */
    remoteBuilder?: RemoteBuilder;
}

/** Where some images are built instead of this machine: each named image is composed there, on its tested parent. */
export interface RemoteBuilder {
    images: string[];
    /** Starts the image's compose: `ref` is what it pushed (host/repository@sha256:…), `step` the resource that runs it. */
    compose(image: string, job: RemoteBuildJob): { ref: pulumi.Output<string>; step: pulumi.CustomResource };
}

export interface RemoteBuildJob {
    registry: string;
    repository: string;
    definitionHash: string;
    parentRef: pulumi.Output<string>;
    /** The labels a build here would set. */
    labels: pulumi.Output<Record<string, string>>;
    context: Record<string, ContextFile>;
    auth?: pulumi.Input<RegistryAuth>;
}

/** Where an image's container disk goes: beside the image, in a repository of its own. */
export const containerDiskRepository = (namespace: string, image: string) => `${namespace}/${image}-disk`;

export type ReleasedImage = ImageOutput;

/** Set (to the time in ms) by `npm run up -- --refresh-bases`: rebuild the root images from fresh packages. */
export const REFRESH_BASES_ENV = "IMAGE_FACTORY_REFRESH_BASES";

/** The refresh time asked through REFRESH_BASES_ENV, or undefined. */
export function refreshRequestedAt(env: NodeJS.ProcessEnv = process.env): number | undefined {
    const v = env[REFRESH_BASES_ENV];
    if (v === undefined || v === "") return undefined;
    if (!/^\d{13}$/.test(v)) throw new Error(`${REFRESH_BASES_ENV} must be a time in milliseconds since the epoch (npm run up -- --refresh-bases sets it), got ${JSON.stringify(v)}`);
    return Number(v);
}

export function contextInputs(context: Map<string, Buffer>): Record<string, ContextFile> {
    const out: Record<string, ContextFile> = {};
    for (const [rel, bytes] of context) {
        const text = bytes.toString("utf8");
        out[rel] = Buffer.from(text, "utf8").equals(bytes) ? { text } : { base64: bytes.toString("base64") };
    }
    return out;
}

/** The digest and version a pin selects from the build history. */
export function pinnedBuild(image: string, pin: string, history: BuildRecord[]): { digest: string; version: string | undefined } {
    if (isDigest(pin)) return { digest: pin, version: history.find((h) => h.digest === pin)?.version };
    const match = [...history].reverse().find((h) => h.version === pin);
    if (!match) {
        const known = [...new Set(history.map((h) => h.version))].join(", ") || "none";
        throw new Error(`image-factory:images.pins.${image}: no build of version ${JSON.stringify(pin)} is known to this stack (built versions: ${known}); pin a sha256 digest instead`);
    }
    return { digest: match.digest, version: match.version };
}

type Signed = [string, { ref: string; digest: string }, { ref: string; digest: string }, { format: string; predicateType: string; packages: number; sha256: string }];

/** The contract's signature and SBOM references of a released digest (cosign tag scheme, beside the image). */
export function supplyChainOutput(ref: string, digest: string, signed: Signed | undefined): Pick<ImageOutput, "signature" | "attestations" | "sbom"> {
    const repository = ref.split("@")[0];
    const tag = (kind: string) => `${repository}:${digest.replace(":", "-")}.${kind}`;
    return {
        signature: { ref: tag("sig"), digest: signed?.[1].digest ?? null },
        attestations: { ref: tag("att"), digest: signed?.[2].digest ?? null },
        sbom: signed ? { ...signed[3], attestation: tag("att") } : null,
    };
}

export class ImagePipeline extends pulumi.ComponentResource {
    readonly builds: Record<string, ImageBuild> = {};
    readonly tests: Record<string, ImageTest> = {};
    readonly releases: Record<string, ImageRelease> = {};
    readonly vmDisks: Record<string, VmDisk> = {};
    readonly boots: Record<string, BootTest> = {};
    readonly signatures: Record<string, ImageSign> = {};
    /** Container disks of booted images, by name (see ImagePipelineArgs.containerDisks). */
    readonly containerDisks: Record<string, ContainerDisk> = {};
    /** The composes run elsewhere (see ImagePipelineArgs.remoteBuilder). */
    readonly composes: pulumi.CustomResource[] = [];
    /** Released images by name: the outputs contract's `images`. */
    readonly released: pulumi.Output<Record<string, ReleasedImage>>;

    constructor(name: string, args: ImagePipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:images:ImagePipeline", name, {}, opts);
        const unknownPins = Object.keys(args.pins).filter((n) => !args.images.has(n));
        if (unknownPins.length) throw new CatalogError(unknownPins.map((n) => `image-factory:images.pins.${n}: ${JSON.stringify(n)} is not a selected catalog image`));
        // An image named <x>-disk would share its repository with <x>'s container disk.
        const clashes = (args.containerDisks ?? []).filter((n) => args.images.has(`${n}-disk`));
        if (clashes.length) {
            throw new CatalogError(
                clashes.map(
                    (n) => `${n}: its container disk goes to ${args.registry}/${containerDiskRepository(args.namespace, n)}, which is the repository of catalog image "${n}-disk"; rename one of them`,
                ),
            );
        }

        const out: Record<string, pulumi.Output<ReleasedImage>> = {};
        for (const [image, r] of args.images) {
            const repository = `${args.namespace}/${image}`;
            // The parent's digest that passed its gates (and, with a fleet key, was signed).
            const parentPassed = r.parent ? (this.signatures[r.parent] ?? this.boots[r.parent] ?? this.tests[r.parent]) : undefined;
            const context = contextInputs(r.context);
            let composedRef: pulumi.Output<string> | undefined;
            if (args.remoteBuilder?.images.includes(image)) {
                if (!parentPassed) throw new CatalogError([`${image}: a compose builds on a catalog parent, and ${image} is a root image; it is built on this machine`]);
                const compose = args.remoteBuilder.compose(image, {
                    registry: args.registry,
                    repository,
                    definitionHash: r.definitionHash,
                    parentRef: parentPassed.ref,
                    labels: parentPassed.ref.apply((p) => buildLabels(r.definitionHash, p)),
                    context,
                    auth: args.auth,
                });
                this.composes.push(compose.step);
                composedRef = compose.ref;
            }
            const build = new ImageBuild(
                image,
                {
                    name: image,
                    version: r.def.version,
                    registry: args.registry,
                    repository,
                    definitionHash: r.definitionHash,
                    containerfile: r.containerfile,
                    context,
                    source: r.def.source ?? null,
                    parentRef: parentPassed ? parentPassed.ref : null,
                    parentPublicKey: r.parent && args.signing ? args.signing.publicKey : null,
                    storage: args.storage,
                    cacheDir: args.cacheDir,
                    // Only when off, so that stacks made before the option see no change.
                    ...(args.reuseBuilds === false ? { reuseBuilds: false } : {}),
                    auth: args.auth,
                    // A root image with a refresh policy (or when a refresh is asked) records its packages and is
                    // rebuilt from fresh ones when due; a child follows its parent.
                    refresh:
                        r.def.source && (r.def.refresh || args.refreshRequestedAt)
                            ? { everySeconds: r.def.refresh?.everySeconds ?? null, requestedAt: args.refreshRequestedAt ?? null, packageManager: r.packageManager }
                            : null,
                    ...(composedRef ? { composedRef } : {}),
                },
                { parent: this },
            );
            const test = new ImageTest(image, { name: image, ref: build.ref, tests: r.def.tests, storage: args.storage, auth: args.auth }, { parent: this });
            const gate = args.boot && r.boot.test ? this.bootGate(image, r, test, args.boot, args) : undefined;
            const gated = gate?.boot ?? test;
            const sign = args.signing ? this.sign(image, r, repository, test, gate?.boot, args.signing, args) : undefined;
            const passed = sign ?? gated;
            // Unpinned, the release is known before anything builds (preview shows its tags);
            // pinned, the digest and version come from the build history.
            const pin = args.pins[image];
            const channelTags = ["latest", ...(args.channel ? [args.channel] : [])];
            const pinned = pin ? pulumi.all([build.history, passed.digest]).apply(([history]) => pinnedBuild(image, pin, history)) : undefined;
            const digest = pinned ? pinned.apply((p) => p.digest) : passed.digest;
            const version = pinned ? pinned.apply((p) => p.version ?? r.def.version) : pulumi.output(r.def.version);
            const tags = pinned ? pinned.apply((p) => [...(p.version ? [p.version] : []), ...channelTags]) : pulumi.output([r.def.version, ...channelTags]);
            const release = new ImageRelease(
                image,
                {
                    name: image,
                    registry: args.registry,
                    repository,
                    digest,
                    version,
                    tags,
                    reason: pin ? `pinned to ${pin}` : "latest tested build",
                    auth: args.auth,
                    ...(args.signing ? { publicKey: args.signing.publicKey } : {}),
                },
                { parent: this, dependsOn: [passed] },
            );
            // Only a disk that booted (and, with a fleet key, whose image was signed) is pushed.
            if (gate && args.containerDisks?.includes(image)) {
                this.containerDisks[image] = new ContainerDisk(
                    image,
                    {
                        image,
                        version: r.def.version,
                        registry: args.registry,
                        repository: containerDiskRepository(args.namespace, image),
                        path: gate.disk.path,
                        format: gate.disk.format,
                        sha256: gate.disk.sha256,
                        auth: args.auth,
                    },
                    { parent: this, dependsOn: [passed] },
                );
            }
            this.builds[image] = build;
            this.tests[image] = test;
            this.releases[image] = release;
            if (sign) this.signatures[image] = sign;
            const signed = sign ? pulumi.all([sign.digest, sign.signature, sign.attestations, sign.sbom]) : pulumi.output(undefined);
            const booted = gate
                ? pulumi.output({
                      result: gate.boot.result,
                      vmDisk: pulumi.output({
                          path: gate.disk.path,
                          format: gate.disk.format,
                          sha256: gate.disk.sha256,
                          size: gate.disk.fileSize,
                          virtualSize: gate.disk.virtualSize,
                          digest: gate.disk.digest,
                          kernel: gate.disk.kernel,
                          initrd: gate.disk.initrd,
                          kernelArgs: gate.disk.kernelArgs,
                          manifest: gate.disk.manifest,
                      }),
                  })
                : undefined;
            out[image] = pulumi.all([release.ref, release.digest, release.tags, release.version, test.results, booted, signed]).apply(
                ([ref, digest, t, v, results, b, sg]): ReleasedImage => ({
                    ref,
                    digest,
                    tags: t,
                    version: v,
                    parent: r.parent,
                    definitionHash: r.definitionHash,
                    tests: { passed: results.filter((x) => x.passed).length, total: results.length },
                    ...(b
                        ? {
                              boot: {
                                  targetReached: b.result.targetReached,
                                  target: b.result.target,
                                  failedUnits: b.result.failedUnits.length,
                                  seconds: b.result.seconds,
                                  accel: b.result.accel,
                                  probes: { passed: b.result.probes.filter((p) => p.passed).length, total: b.result.probes.length },
                              },
                              vmDisk: b.vmDisk as VmDiskOutput,
                          }
                        : {}),
                    // The released digest's attachments (a pin releases an earlier build, signed when it was built).
                    ...(sg ? supplyChainOutput(ref, digest, sg[0] === digest ? (sg as Signed) : undefined) : {}),
                }),
            );
        }
        this.released = pulumi.all(out);
        this.registerOutputs({ released: this.released });
    }

    /** ImageSign: the digest that passed the tests (and the boot gate) is signed, with its SBOM and provenance. */
    private sign(
        image: string,
        r: ResolvedImage,
        repository: string,
        test: ImageTest,
        boot: BootTest | undefined,
        signing: NonNullable<ImagePipelineArgs["signing"]>,
        args: ImagePipelineArgs,
    ): ImageSign {
        const parentSign = r.parent ? this.signatures[r.parent] : undefined;
        const bootVerdict = boot
            ? boot.result.apply((b) => ({ targetReached: b.targetReached, target: b.target, failedUnits: b.failedUnits, probes: b.probes.map((p) => ({ name: p.name, passed: p.passed })) }))
            : null;
        const gated = boot ?? test;
        return new ImageSign(
            image,
            {
                name: image,
                version: r.def.version,
                registry: args.registry,
                repository,
                digest: gated.digest,
                signingKey: pulumi.secret(signing.key),
                publicKey: signing.publicKey,
                provenance: pulumi.all([test.results, bootVerdict, signing.commit, parentSign ? parentSign.ref : null]).apply(([results, bootResult, commit, parentRef]) => ({
                    definitionHash: r.definitionHash,
                    parentRef,
                    tests: results.map((t) => ({ name: t.name, passed: t.passed })),
                    ...(bootResult ? { boot: bootResult } : {}),
                    commit,
                })),
                auth: args.auth,
            },
            { parent: this, dependsOn: [gated] },
        );
    }

    /** VmDisk → BootTest for a bootable image, on the digest that passed its tests. */
    private bootGate(image: string, r: ResolvedImage, test: ImageTest, boot: BootSettings, args: ImagePipelineArgs): { disk: VmDisk; boot: BootTest } {
        const disk = new VmDisk(image, { image, ref: test.ref, dir: boot.dir, format: boot.format, size: boot.size, storage: args.storage, auth: args.auth }, { parent: this });
        const probes: BootProbe[] = r.def.tests.flatMap((t) => (t.kind === "service" ? [{ name: t.name, ...(t.http ? { http: t.http } : { tcp: t.tcp! }) }] : []));
        const bootTest = new BootTest(
            image,
            {
                image,
                ref: disk.ref,
                disk: pulumi.all([disk.path, disk.format, disk.sha256]).apply(([p, format, sha256]) => ({ path: p, format, sha256 })),
                kernel: disk.kernel.path,
                initrd: disk.initrd.path,
                kernelArgs: disk.kernelArgs,
                probes,
                timeoutSeconds: r.boot.timeoutSeconds ?? boot.timeoutSeconds,
                memoryMiB: boot.memoryMiB,
                accel: boot.accel,
                serialLog: disk.serialLog,
            },
            { parent: this },
        );
        this.vmDisks[image] = disk;
        this.boots[image] = bootTest;
        return { disk, boot: bootTest };
    }
}
