import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { Attachment } from "./attachments";
import type { ImageSignInputs, SbomSummary } from "./sign.provider";

type Args = { [K in keyof ImageSignInputs]: K extends "auth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<ImageSignInputs[K]> };

/** Signs a gated image by digest and attaches its SBOM and provenance in the registry (see sign.provider.ts). */
export class ImageSign extends FactoryResource {
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
            {
                type: "ImageSign",
                provider: "@image-factory/components/supply-chain/sign.provider",
                outputs: ["ref", "keyFingerprint", "signature", "attestations", "sbom", "signed"],
                secrets: ["auth", "signingKey"],
            },
            name,
            args,
            opts,
        );
    }
}
