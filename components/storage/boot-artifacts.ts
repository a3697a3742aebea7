import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { BootArtifact, SQUASHFS_COMPRESSIONS } from "./boot-artifacts.provider";
import type { S3Credentials, S3Location } from "./s3";

export interface BootArtifactsArgs {
    /** The image's name: keys are <image>/<digest>/{kernel,initrd,rootfs,manifest.json}. */
    image: pulumi.Input<string>;
    /** The released image, by digest: <registry>/<repository>@sha256:… */
    ref: pulumi.Input<string>;
    registryAuth?: pulumi.Input<RegistryAuth>;
    /** The boot-images bucket. */
    bucket: pulumi.Input<string>;
    s3: pulumi.Input<S3Location>;
    credentials: pulumi.Input<S3Credentials>;
    compression?: pulumi.Input<(typeof SQUASHFS_COMPRESSIONS)[number]>;
    /** The fleet's private key (PEM; kept a secret): with it, the manifest is signed (manifest.json.sig). */
    signingKey?: pulumi.Input<string>;
    /** Its public half (PEM), required with signingKey. */
    publicKey?: pulumi.Input<string>;
}

/**
 * The kernel, initrd and squashfs rootfs of a released image, with a manifest of
 * their sizes and sha256s, in the boot-images bucket. Registry and S3 credentials
 * stay secret in state.
 */
export class BootArtifacts extends FactoryResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly prefix: pulumi.Output<string>;
    declare readonly kernelVersion: pulumi.Output<string>;
    declare readonly kernel: pulumi.Output<BootArtifact>;
    declare readonly initrd: pulumi.Output<BootArtifact>;
    declare readonly rootfs: pulumi.Output<BootArtifact>;
    declare readonly manifest: pulumi.Output<BootArtifact>;
    /** manifest.json.sig, the manifest's detached signature by the fleet key; null without one. */
    declare readonly manifestSignature: pulumi.Output<(BootArtifact & { keyFingerprint: string }) | null>;

    constructor(name: string, args: BootArtifactsArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            {
                type: "BootArtifacts",
                provider: "@image-factory/components/storage/boot-artifacts.provider",
                outputs: ["digest", "prefix", "kernelVersion", "kernel", "initrd", "rootfs", "manifest", "manifestSignature"],
                secrets: ["credentials", "registryAuth", "signingKey"],
            },
            name,
            args,
            opts,
        );
    }
}
