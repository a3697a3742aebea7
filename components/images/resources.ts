// The pipeline's dynamic resources. Each loads its provider by package name
// in the engine's provider host (see components/dynamic.ts).
import * as pulumi from "@pulumi/pulumi";
import { providerFor } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { BuildRecord, ImageBuildInputs } from "./build.provider";
import type { ImageReleaseInputs } from "./release.provider";
import type { ImageTestInputs, TestResult } from "./test.provider";

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
