import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { RegistryAuth } from "./client";
import type { MirrorInputs } from "./mirror.provider";

type Args = { [K in keyof MirrorInputs]: K extends "auth" | "sourceAuth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<MirrorInputs[K]> };

/** One image copied by digest from the hub's registry into this site's, with its tags. */
export class RegistryMirror extends FactoryResource {
    declare readonly ref: pulumi.Output<string>;
    declare readonly digest: pulumi.Output<string>;
    declare readonly tags: pulumi.Output<string[]>;
    declare readonly copiedBlobs: pulumi.Output<number>;
    declare readonly skippedBlobs: pulumi.Output<number>;

    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
        super(
            {
                type: "RegistryMirror",
                provider: "@image-factory/components/registry/mirror.provider",
                outputs: ["ref", "copiedBlobs", "skippedBlobs", "copiedBytes"],
                secrets: ["auth", "sourceAuth"],
            },
            name,
            args,
            opts,
        );
    }
}
