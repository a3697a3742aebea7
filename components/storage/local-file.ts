import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";

export interface LocalFileArgs {
    /** Absolute path of the file. */
    path: pulumi.Input<string>;
    content: pulumi.Input<string>;
    mode?: pulumi.Input<number>;
}

/** A file on the deploying machine, written atomically and verified. */
export class LocalFile extends FactoryResource {
    declare readonly path: pulumi.Output<string>;
    declare readonly sha256: pulumi.Output<string>;
    declare readonly size: pulumi.Output<number>;

    constructor(name: string, args: LocalFileArgs, opts?: pulumi.CustomResourceOptions) {
        super({ type: "LocalFile", provider: "@image-factory/components/storage/local-file.provider", outputs: ["sha256", "size"] }, name, args, opts);
    }
}
