import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { Applied } from "./s3-bucket.provider";
import type { S3Credentials, S3Location } from "./s3";

export interface S3BucketArgs {
    name: pulumi.Input<string>;
    s3: pulumi.Input<S3Location>;
    credentials: pulumi.Input<S3Credentials>;
    noncurrentVersionDays: pulumi.Input<number>;
    forceDestroy: pulumi.Input<boolean>;
}

/**
 * A bucket made through the S3 API (versioning on, public access blocked, a
 * lifecycle rule for old versions), for stacks that do not run the aws plugin.
 * The credentials stay secret in state.
 */
export class S3Bucket extends FactoryResource {
    declare readonly name: pulumi.Output<string>;
    declare readonly versioning: pulumi.Output<"Enabled">;
    declare readonly publicAccessBlock: pulumi.Output<Applied>;
    declare readonly lifecycle: pulumi.Output<Applied>;
    declare readonly url: pulumi.Output<string>;

    constructor(name: string, args: S3BucketArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            { type: "S3Bucket", provider: "@image-factory/components/storage/s3-bucket.provider", outputs: ["versioning", "publicAccessBlock", "lifecycle", "url"], secrets: ["credentials"] },
            name,
            args,
            opts,
        );
    }
}
