// The stack outputs: a versioned contract that other teams read with
// StackReference. Add fields freely; renaming or removing one is a new
// schemaVersion. The README's "Outputs contract" section documents each field.
import type * as pulumi from "@pulumi/pulumi";
import type { VmTemplateOutput } from "../components/acp/vm-templates";
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

export interface StackOutputsV1 {
    schemaVersion: 1;
    site: { name: string; role: string };
    registry: { url: string };
    images: Record<string, ImageOutput>;
    /** Roles acp and hub: the VM template of each released disk image, by image name. */
    vmTemplates: Record<string, VmTemplateOutput>;
}

/** What infra/site.ts produces for the outputs. */
export interface SiteResult {
    images: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>;
    vmTemplates?: Record<string, VmTemplateOutput>;
}

export function stackOutputs(config: SiteConfig, site: SiteResult) {
    return {
        schemaVersion: SCHEMA_VERSION,
        site: { name: config.site.name, role: config.site.role },
        registry: { url: config.registry.url },
        images: site.images,
        vmTemplates: site.vmTemplates ?? {},
    };
}
