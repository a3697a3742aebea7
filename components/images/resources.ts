// The pipeline's dynamic resources. Each loads its provider by package name
// in the engine's provider host (see components/dynamic.ts).
import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { BuildRecord, ImageBuildInputs } from "./build.provider";
import type { ImageReleaseInputs } from "./release.provider";
import type { ImageTestInputs, TestResult } from "./test.provider";
import type { BootResult, BootTestInputs } from "./boot-test.provider";
import type { VmDiskInputs, VmFile } from "./vm-disk.provider";
import type { ContainerDiskInputs } from "./container-disk.provider";

type Args<T> = { [K in keyof T]: K extends "auth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<T[K]> };

export class ImageBuild extends FactoryResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly history: pulumi.Output<BuildRecord[]>;
    declare readonly definitionHash: pulumi.Output<string>;

    constructor(name: string, args: Args<ImageBuildInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "ImageBuild", provider: "@image-factory/components/images/build.provider", outputs: ["digest", "ref", "history", "packages", "refreshedAt"], secrets: ["auth"] }, name, args, opts);
    }
}

export class ImageTest extends FactoryResource {
    /** The digest that passed. */
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly results: pulumi.Output<TestResult[]>;

    constructor(name: string, args: Args<ImageTestInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "ImageTest", provider: "@image-factory/components/images/test.provider", outputs: ["digest", "results"], secrets: ["auth"] }, name, args, opts);
    }
}

export class ImageRelease extends FactoryResource {
    declare readonly ref: pulumi.Output<string>;
    declare readonly digest: pulumi.Output<string>;
    declare readonly tags: pulumi.Output<string[]>;
    declare readonly version: pulumi.Output<string>;

    constructor(name: string, args: Args<ImageReleaseInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "ImageRelease", provider: "@image-factory/components/images/release.provider", outputs: ["ref", "previous"], secrets: ["auth"] }, name, args, opts);
    }
}

/** A tested image as a VM disk (qcow2 or raw), with its kernel, initrd and manifest beside it. */
export class VmDisk extends FactoryResource {
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
            {
                type: "VmDisk",
                provider: "@image-factory/components/images/vm-disk.provider",
                outputs: ["digest", "path", "sha256", "fileSize", "virtualSize", "kernelVersion", "kernelArgs", "kernel", "initrd", "manifest", "serialLog"],
                secrets: ["auth"],
            },
            name,
            args,
            opts,
        );
    }
}

/** The boot gate: the image's VM disk booted in qemu to its default target, with its service probes. */
export class BootTest extends FactoryResource {
    /** The digest that booted. */
    declare readonly digest: pulumi.Output<string>;
    declare readonly ref: pulumi.Output<string>;
    declare readonly result: pulumi.Output<BootResult>;
    declare readonly serialLog: pulumi.Output<string>;

    constructor(name: string, args: { [K in keyof BootTestInputs]: pulumi.Input<BootTestInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
        super({ type: "BootTest", provider: "@image-factory/components/images/boot-test.provider", outputs: ["digest", "result"] }, name, args, opts);
    }
}

/** A booted VM disk as a KubeVirt container disk in the registry (qcow2 under /disk), for the ACP's VM templates. */
export class ContainerDisk extends FactoryResource {
    declare readonly digest: pulumi.Output<string>;
    /** host/repo@sha256:… */
    declare readonly ref: pulumi.Output<string>;
    declare readonly layer: pulumi.Output<{ digest: string; size: number }>;

    constructor(name: string, args: Args<ContainerDiskInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "ContainerDisk", provider: "@image-factory/components/images/container-disk.provider", outputs: ["digest", "ref", "layer"], secrets: ["auth"] }, name, args, opts);
    }
}
