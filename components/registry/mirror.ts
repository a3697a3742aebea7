import * as pulumi from "@pulumi/pulumi";
import { providerFor } from "../dynamic";
import type { RegistryAuth } from "./client";
import type { MirrorInputs } from "./mirror.provider";

type Args = { [K in keyof MirrorInputs]: K extends "auth" | "sourceAuth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<MirrorInputs[K]> };

/** One image copied by digest from the hub's registry into this site's, with its tags. */
export class RegistryMirror extends pulumi.dynamic.Resource {
    declare readonly ref: pulumi.Output<string>;
    declare readonly digest: pulumi.Output<string>;
    declare readonly tags: pulumi.Output<string[]>;
    declare readonly copiedBlobs: pulumi.Output<number>;
    declare readonly skippedBlobs: pulumi.Output<number>;

    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("@image-factory/components/registry/mirror.provider"),
            name,
            { ...args, ref: undefined, copiedBlobs: undefined, skippedBlobs: undefined, copiedBytes: undefined },
            { ...opts, additionalSecretOutputs: ["auth", "sourceAuth"] },
            "image-factory",
            "RegistryMirror",
        );
    }
}
