import * as pulumi from "@pulumi/pulumi";
import { providerFor } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { Attachment } from "./attachments";
import type { ImageSignInputs, SbomSummary } from "./sign.provider";

type Args = { [K in keyof ImageSignInputs]: K extends "auth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<ImageSignInputs[K]> };

/** Signs a gated image by digest and attaches its SBOM and provenance in the registry (see sign.provider.ts). */
export class ImageSign extends pulumi.dynamic.Resource {
    /** host/repo@sha256:… — the signed image. */
    declare readonly ref: pulumi.Output<string>;
    declare readonly digest: pulumi.Output<string>;
    declare readonly publicKey: pulumi.Output<string>;
    declare readonly keyFingerprint: pulumi.Output<string>;
    declare readonly signature: pulumi.Output<Attachment>;
    declare readonly attestations: pulumi.Output<Attachment>;
    declare readonly sbom: pulumi.Output<SbomSummary>;

    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("@image-factory/components/supply-chain/sign.provider"),
            name,
            { ...args, ref: undefined, keyFingerprint: undefined, signature: undefined, attestations: undefined, sbom: undefined, signed: undefined },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "auth", "signingKey"] },
            "image-factory",
            "ImageSign",
        );
    }
}
