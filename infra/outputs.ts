// The stack outputs: a versioned contract that other teams read with
// StackReference. Add fields freely; renaming or removing one is a new
// schemaVersion. The README's "Outputs contract" section documents each field.
import type * as pulumi from "@pulumi/pulumi";
import type { SiteConfig } from "./config";

export const SCHEMA_VERSION = 1;

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
}

export interface StackOutputsV1 {
    schemaVersion: 1;
    site: { name: string; role: string };
    registry: { url: string };
    images: Record<string, ImageOutput>;
    /** null when the site has no artifact store. */
    buckets: BucketsOutput | null;
    bootArtifacts: Record<string, BootArtifactsOutput>;
}

/** What infra/site.ts produces for the outputs. */
export interface SiteResult {
    images: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>;
    buckets?: pulumi.Input<BucketsOutput>;
    bootArtifacts?: pulumi.Input<Record<string, pulumi.Input<BootArtifactsOutput>>>;
}

export function stackOutputs(config: SiteConfig, site: SiteResult) {
    return {
        schemaVersion: SCHEMA_VERSION,
        site: { name: config.site.name, role: config.site.role },
        registry: { url: config.registry.url },
        images: site.images,
        buckets: site.buckets ?? null,
        bootArtifacts: site.bootArtifacts ?? {},
    };
}
