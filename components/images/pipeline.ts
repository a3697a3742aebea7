// ImagePipeline: for each selected image, parents first,
//   ImageBuild (push by digest) → ImageTest → ImageRelease (move tags)
// A child builds on its parent's TESTED digest, so a failing test stops the
// image's release and every descendant's build.
import * as pulumi from "@pulumi/pulumi";
import type { ImageOutput } from "../contract";
import { isDigest, type RegistryAuth } from "../registry/client";
import type { BuildRecord, ContextFile } from "./build.provider";
import { CatalogError } from "./catalog";
import type { ResolvedImage } from "./definition";
import { ImageBuild, ImageRelease, ImageTest } from "./resources";

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
    /** Released images by name: the outputs contract's `images`. */
    readonly released: pulumi.Output<Record<string, ReleasedImage>>;

    constructor(name: string, args: ImagePipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:images:ImagePipeline", name, {}, opts);
        const unknownPins = Object.keys(args.pins).filter((n) => !args.images.has(n));
        if (unknownPins.length) throw new CatalogError(unknownPins.map((n) => `image-factory:images.pins.${n}: ${JSON.stringify(n)} is not a selected catalog image`));

        const out: Record<string, pulumi.Output<ReleasedImage>> = {};
        for (const [image, r] of args.images) {
            const repository = `${args.namespace}/${image}`;
            const parentTest = r.parent ? this.tests[r.parent] : undefined;
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
            // Unpinned, the release is known before anything builds (preview shows its tags);
            // pinned, the digest and version come from the build history.
            const pin = args.pins[image];
            const channelTags = ["latest", ...(args.channel ? [args.channel] : [])];
            const pinned = pin ? pulumi.all([build.history, test.digest]).apply(([history]) => pinnedBuild(image, pin, history)) : undefined;
            const digest = pinned ? pinned.apply((p) => p.digest) : test.digest;
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
                { parent: this, dependsOn: [test] },
            );
            this.builds[image] = build;
            this.tests[image] = test;
            this.releases[image] = release;
            out[image] = pulumi.all([release.ref, release.digest, release.tags, release.version, test.results]).apply(([ref, digest, t, v, results]) => ({
                ref,
                digest,
                tags: t,
                version: v,
                parent: r.parent,
                definitionHash: r.definitionHash,
                tests: { passed: results.filter((x) => x.passed).length, total: results.length },
            }));
        }
        this.released = pulumi.all(out);
        this.registerOutputs({ released: this.released });
    }
}
