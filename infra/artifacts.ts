// The site's artifact store and what is published into it, for infra/site.ts.
import * as pulumi from "@pulumi/pulumi";
import type { RegistryAuth } from "../components/registry";
import { ArtifactStore, type BootArtifact, BootArtifacts } from "../components/storage";
import type { SiteConfig } from "./config";
import type { BootArtifactsOutput, BucketsOutput, ImageOutput, VmDiskOutput } from "../components/contract";
import type { ImagePipeline } from "../components/images";

/** The ArtifactStore the stack configures (image-factory:artifacts), or undefined when it has none. */
export function deployArtifactStore(config: SiteConfig): ArtifactStore | undefined {
    const a = config.artifacts;
    if (!a) return undefined;
    return new ArtifactStore("artifacts", {
        kind: a.kind,
        endpoint: a.endpoint,
        region: a.region,
        pathStyle: a.pathStyle,
        accessKey: a.accessKey,
        secretKey: a.secretKey,
        buckets: a.buckets,
        noncurrentVersionDays: a.noncurrentVersionDays,
        forceDestroy: a.forceDestroy,
    });
}

/** The boot artifact set of a released image (ref by digest) in the store's boot-images bucket; with the fleet key its manifest is signed. */
export function publishBootArtifacts(
    store: ArtifactStore,
    image: string,
    ref: pulumi.Input<string>,
    registryAuth?: pulumi.Input<RegistryAuth>,
    signing?: { key: pulumi.Input<string>; publicKey: string },
    opts?: pulumi.CustomResourceOptions,
): BootArtifacts {
    return new BootArtifacts(
        `boot-${image}`,
        {
            image,
            ref,
            registryAuth,
            bucket: store.buckets.bootImages,
            s3: store.location,
            credentials: store.credentials,
            ...(signing ? { signingKey: signing.key, publicKey: signing.publicKey } : {}),
        },
        { ...opts, dependsOn: [...store.ready, ...((opts?.dependsOn as pulumi.Resource[] | undefined) ?? [])] },
    );
}

/** The `buckets` stack output. */
export function bucketsOutput(store: ArtifactStore): pulumi.Output<BucketsOutput> {
    return store.buckets.apply((b) => ({ kind: store.kind, endpoint: store.location.endpoint ?? null, region: store.location.region, pathStyle: store.location.pathStyle, ...b }));
}

/** One `bootArtifacts` stack output entry. */
export function bootArtifactsOutput(set: BootArtifacts): pulumi.Output<BootArtifactsOutput> {
    const only = (a: BootArtifact) => ({ key: a.key, url: a.url, size: a.size, sha256: a.sha256 });
    return pulumi
        .all([set.prefix, set.digest, set.kernelVersion, set.kernel, set.initrd, set.rootfs, set.manifest, set.manifestSignature])
        .apply(([prefix, digest, kernelVersion, kernel, initrd, rootfs, manifest, signature]) => ({
            prefix,
            digest,
            kernelVersion,
            kernel: only(kernel),
            initrd: only(initrd),
            rootfs: only(rootfs),
            manifest: only(manifest),
            manifestSignature: signature ? { ...only(signature), keyFingerprint: signature.keyFingerprint } : null,
        }));
}

/**
 * Publishes each booted VM disk set to the boot-images bucket under
 * <image>/<digest>/vm/ (disk.<format>, kernel, initrd, manifest.json, with their
 * sha256) once its boot test passed, and adds the objects' URLs to the images' `vmDisk`.
 * The vm/ folder keeps the set apart from the image's boot artifact set, which lives
 * directly under <image>/<digest>/ with keys of the same names (two owners of one key
 * overwrote each other's manifest on every up).
 */
/** Where an image's VM disk set goes in the boot-images bucket: beside, not on top of, its boot artifact set. */
export const vmDiskPrefix = (image: string, digest: string) => `${image}/${digest}/vm/`;

export function publishVmDisks(
    store: ArtifactStore,
    pipeline: ImagePipeline,
    images: pulumi.Output<Record<string, ImageOutput>>,
): pulumi.Output<Record<string, ImageOutput>> {
    const urls: Record<string, pulumi.Output<Record<"disk" | "kernel" | "initrd" | "manifest", string>>> = {};
    for (const [name, disk] of Object.entries(pipeline.vmDisks)) {
        const opts = { dependsOn: [pipeline.boots[name], ...store.ready] };
        const prefix = disk.digest.apply((d) => vmDiskPrefix(name, d));
        const put = (what: string, key: pulumi.Input<string>, file: pulumi.Input<string>, sha256: pulumi.Input<string>) =>
            store.publish(`vm-${name}-${what}`, { bucket: "bootImages", key, source: { file }, sha256, metadata: { image: name } }, opts).url;
        urls[name] = pulumi.output({
            disk: put("disk", pulumi.interpolate`${prefix}disk.${disk.format}`, disk.path, disk.sha256),
            kernel: put("kernel", pulumi.interpolate`${prefix}kernel`, disk.kernel.path, disk.kernel.sha256),
            initrd: put("initrd", pulumi.interpolate`${prefix}initrd`, disk.initrd.path, disk.initrd.sha256),
            // The manifest last: a manifest present means the set is complete.
            manifest: put("manifest", pulumi.interpolate`${prefix}manifest.json`, disk.manifest.path, disk.manifest.sha256),
        });
    }
    return pulumi.all([images, pulumi.output(urls)]).apply(([all, u]) =>
        Object.fromEntries(
            Object.entries(all).map(([name, img]) => {
                const v = img.vmDisk;
                if (!v || !u[name]) return [name, img];
                const vmDisk: VmDiskOutput = { ...v, url: u[name].disk, kernel: { ...v.kernel, url: u[name].kernel }, initrd: { ...v.initrd, url: u[name].initrd }, manifest: { ...v.manifest, url: u[name].manifest } };
                return [name, { ...img, vmDisk }];
            }),
        ),
    );
}
