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

/** A factory pre-staged disk artifact. */
export interface DiskOutput {
    /** Absolute path of the artifact on the deploying machine. */
    path: string;
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
}

export interface StackOutputsV1 {
    schemaVersion: 1;
    site: { name: string; role: string };
    registry: { url: string };
    images: Record<string, ImageOutput>;
    disks: Record<string, DiskOutput>;
}

/** What infra/site.ts produces for the outputs. */
export interface SiteResult {
    images: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>;
    /** From deployPrestage (infra/prestage.ts); none when absent. */
    disks?: pulumi.Input<Record<string, pulumi.Input<DiskOutput>>>;
}

export function stackOutputs(config: SiteConfig, site: SiteResult) {
    return {
        schemaVersion: SCHEMA_VERSION,
        site: { name: config.site.name, role: config.site.role },
        registry: { url: config.registry.url },
        images: site.images,
        disks: site.disks ?? {},
    };
}
