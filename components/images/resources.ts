// The pipeline's dynamic resources. Each loads its provider by package name
// in the engine's provider host (see components/dynamic.ts).
import * as pulumi from "@pulumi/pulumi";
import { providerFor } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { BuildRecord, ImageBuildInputs } from "./build.provider";
import type { ImageReleaseInputs } from "./release.provider";
import type { ImageTestInputs, TestResult } from "./test.provider";
import type { BootResult, BootTestInputs } from "./boot-test.provider";
import type { VmDiskInputs, VmFile } from "./vm-disk.provider";

type Args<T> = { [K in keyof T]: K extends "auth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<T[K]> };

const withSecrets = (opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions => ({
    ...opts,
    additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "auth"],
});

export class ImageBuild extends pulumi.dynamic.Resource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly history: pulumi.Output<BuildRecord[]>;
    declare readonly definitionHash: pulumi.Output<string>;

    constructor(name: string, args: Args<ImageBuildInputs>, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("@image-factory/components/images/build.provider"), name, { ...args, digest: undefined, ref: undefined, history: undefined }, withSecrets(opts), "image-factory", "ImageBuild");
    }
}

export class ImageTest extends pulumi.dynamic.Resource {
    /** The digest that passed. */
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly results: pulumi.Output<TestResult[]>;

    constructor(name: string, args: Args<ImageTestInputs>, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("@image-factory/components/images/test.provider"), name, { ...args, digest: undefined, results: undefined }, withSecrets(opts), "image-factory", "ImageTest");
    }
}

export class ImageRelease extends pulumi.dynamic.Resource {
    declare readonly ref: pulumi.Output<string>;
    declare readonly digest: pulumi.Output<string>;
    declare readonly tags: pulumi.Output<string[]>;
    declare readonly version: pulumi.Output<string>;

    constructor(name: string, args: Args<ImageReleaseInputs>, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("@image-factory/components/images/release.provider"), name, { ...args, ref: undefined, previous: undefined }, withSecrets(opts), "image-factory", "ImageRelease");
    }
}

/** A tested image as a VM disk (qcow2 or raw), with its kernel, initrd and manifest beside it. */
export class VmDisk extends pulumi.dynamic.Resource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly path: pulumi.Output<string>;
    declare readonly format: pulumi.Output<"raw" | "qcow2">;
    declare readonly sha256: pulumi.Output<string>;
    declare readonly fileSize: pulumi.Output<number>;
    declare readonly virtualSize: pulumi.Output<number>;
    declare readonly kernelVersion: pulumi.Output<string>;
    declare readonly kernelArgs: pulumi.Output<string>;
    declare readonly kernel: pulumi.Output<VmFile>;
    declare readonly initrd: pulumi.Output<VmFile>;
    declare readonly manifest: pulumi.Output<VmFile>;
    declare readonly serialLog: pulumi.Output<string>;

    constructor(name: string, args: Args<VmDiskInputs>, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("@image-factory/components/images/vm-disk.provider"),
            name,
            { ...args, digest: undefined, path: undefined, sha256: undefined, fileSize: undefined, virtualSize: undefined, kernelVersion: undefined, kernelArgs: undefined, kernel: undefined, initrd: undefined, manifest: undefined, serialLog: undefined },
            withSecrets(opts),
            "image-factory",
            "VmDisk",
        );
    }
}

/** The boot gate: the image's VM disk booted in qemu to its default target, with its service probes. */
export class BootTest extends pulumi.dynamic.Resource {
    /** The digest that booted. */
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly result: pulumi.Output<BootResult>;
    declare readonly serialLog: pulumi.Output<string>;

    constructor(name: string, args: { [K in keyof BootTestInputs]: pulumi.Input<BootTestInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("@image-factory/components/images/boot-test.provider"), name, { ...args, digest: undefined, result: undefined }, opts, "image-factory", "BootTest");
    }
}
