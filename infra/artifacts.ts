// The site's artifact store and what is published into it, for infra/site.ts.
import * as pulumi from "@pulumi/pulumi";
import type { RegistryAuth } from "../components/registry";
import { ArtifactStore, type BootArtifact, BootArtifacts } from "../components/storage";
import type { SiteConfig } from "./config";
import type { BootArtifactsOutput, BucketsOutput } from "../components/contract";

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

/** The boot artifact set of a released image (ref by digest) in the store's boot-images bucket. */
export function publishBootArtifacts(
    store: ArtifactStore,
    image: string,
    ref: pulumi.Input<string>,
    registryAuth?: pulumi.Input<RegistryAuth>,
    opts?: pulumi.CustomResourceOptions,
): BootArtifacts {
    return new BootArtifacts(
        `boot-${image}`,
        { image, ref, registryAuth, bucket: store.buckets.bootImages, s3: store.location, credentials: store.credentials },
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
        .all([set.prefix, set.digest, set.kernelVersion, set.kernel, set.initrd, set.rootfs, set.manifest])
        .apply(([prefix, digest, kernelVersion, kernel, initrd, rootfs, manifest]) => ({
            prefix,
            digest,
            kernelVersion,
            kernel: only(kernel),
            initrd: only(initrd),
            rootfs: only(rootfs),
            manifest: only(manifest),
        }));
}
