// ImagePipeline: for each selected image, parents first,
//   ImageBuild (push by digest) → ImageTest → [VmDisk → BootTest] → ImageRelease (move tags)
// Bootable images (a kernel in the chain, catalog `boot`) are made into a VM
// disk and booted before release. A child builds on its parent's TESTED (and
// booted) digest, so a failing test or boot stops the image's release and
// every descendant's build.
import * as pulumi from "@pulumi/pulumi";
import type { ImageOutput, VmDiskOutput } from "../contract";
import { isDigest, type RegistryAuth } from "../registry/client";
import type { BuildRecord, ContextFile } from "./build.provider";
import { CatalogError } from "./catalog";
import type { ResolvedImage } from "./definition";
import type { Accel, BootProbe } from "./boot-test.provider";
import { BootTest, ImageBuild, ImageRelease, ImageTest, VmDisk } from "./resources";
import type { DiskFormat } from "../prestage/layout";

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
    /** Boot-test bootable images before release; without it nothing is booted. */
    boot?: BootSettings;
}

export type ReleasedImage = ImageOutput;

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

export class ImagePipeline extends pulumi.ComponentResource {
    readonly builds: Record<string, ImageBuild> = {};
    readonly tests: Record<string, ImageTest> = {};
    readonly releases: Record<string, ImageRelease> = {};
    readonly vmDisks: Record<string, VmDisk> = {};
    readonly boots: Record<string, BootTest> = {};
    /** Released images by name: the outputs contract's `images`. */
    readonly released: pulumi.Output<Record<string, ReleasedImage>>;

    constructor(name: string, args: ImagePipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:images:ImagePipeline", name, {}, opts);
        const unknownPins = Object.keys(args.pins).filter((n) => !args.images.has(n));
        if (unknownPins.length) throw new CatalogError(unknownPins.map((n) => `image-factory:images.pins.${n}: ${JSON.stringify(n)} is not a selected catalog image`));

        const out: Record<string, pulumi.Output<ReleasedImage>> = {};
        for (const [image, r] of args.images) {
            const repository = `${args.namespace}/${image}`;
            const parentTest = r.parent ? (this.boots[r.parent] ?? this.tests[r.parent]) : undefined;
            const build = new ImageBuild(
                image,
                {
                    name: image,
                    version: r.def.version,
                    registry: args.registry,
                    repository,
                    definitionHash: r.definitionHash,
                    containerfile: r.containerfile,
                    context: contextInputs(r.context),
                    source: r.def.source ?? null,
                    parentRef: parentTest ? parentTest.ref : null,
                    storage: args.storage,
                    cacheDir: args.cacheDir,
                    auth: args.auth,
                },
                { parent: this },
            );
            const test = new ImageTest(image, { name: image, ref: build.ref, tests: r.def.tests, storage: args.storage, auth: args.auth }, { parent: this });
            const gate = args.boot && r.boot.test ? this.bootGate(image, r, test, args.boot, args) : undefined;
            const passed = gate?.boot ?? test;
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
                },
                { parent: this, dependsOn: [passed] },
            );
            this.builds[image] = build;
            this.tests[image] = test;
            this.releases[image] = release;
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
            out[image] = pulumi.all([release.ref, release.digest, release.tags, release.version, test.results, booted]).apply(
                ([ref, digest, t, v, results, b]): ReleasedImage => ({
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
                }),
            );
        }
        this.released = pulumi.all(out);
        this.registerOutputs({ released: this.released });
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
