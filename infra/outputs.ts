// The stack outputs: a versioned contract that other teams read with
// StackReference (types and reader: components/contract). Add fields freely;
// renaming or removing one is a new schemaVersion. The README's "Outputs
// contract" section documents each field.
import type * as pulumi from "@pulumi/pulumi";
import {
    type BootArtifactsOutput,
    type BucketsOutput,
    type DiskOutput,
    type ImageOutput,
    type RolloutOutput,
    type RolloutReportOutput,
    type SigningOutput,
    SCHEMA_VERSION,
    type VmTemplateOutput,
} from "../components/contract";
import type { SiteConfig } from "./config";

/** What infra/site.ts produces for the outputs. */
export interface SiteResult {
    images: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>;
    vmTemplates?: Record<string, pulumi.Input<VmTemplateOutput>>;
    buckets?: pulumi.Input<BucketsOutput>;
    bootArtifacts?: pulumi.Input<Record<string, pulumi.Input<BootArtifactsOutput>>>;
    disks?: pulumi.Input<Record<string, pulumi.Input<DiskOutput>>>;
    rollout?: pulumi.Input<RolloutOutput>;
    rolloutReport?: pulumi.Input<RolloutReportOutput>;
    signing?: SigningOutput;
}

export function stackOutputs(config: SiteConfig, site: SiteResult) {
    return {
        schemaVersion: SCHEMA_VERSION,
        site: { name: config.site.name, role: config.site.role },
        registry: { url: config.registry.url },
        images: site.images,
        vmTemplates: site.vmTemplates ?? {},
        buckets: site.buckets ?? null,
        bootArtifacts: site.bootArtifacts ?? {},
        disks: site.disks ?? {},
        rollout: site.rollout ?? null,
        rolloutReport: site.rolloutReport ?? null,
        signing: site.signing ?? null,
    };
}
