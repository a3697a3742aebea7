import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { S3Credentials, S3Location } from "./s3";

export interface ArtifactObjectArgs {
    bucket: pulumi.Input<string>;
    key: pulumi.Input<string>;
    s3: pulumi.Input<S3Location>;
    credentials: pulumi.Input<S3Credentials>;
    /** Exactly one: an absolute file path (uploaded as it is), a folder path or inline files (relative path → base64), each uploaded as a reproducible .tgz. */
    source: pulumi.Input<{ file?: pulumi.Input<string>; directory?: pulumi.Input<string>; files?: pulumi.Input<Record<string, string>> }>;
    /** hex sha256 of the payload when the producer knows it; otherwise computed at check time. */
    sha256?: pulumi.Input<string>;
    contentType?: pulumi.Input<string>;
    metadata?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * One object published to S3: multipart upload with sha256 checksums, skipped
 * when the same content is already there, every version of its key deleted on
 * destroy. The credentials stay secret in state.
 */
export class ArtifactObject extends FactoryResource {
    declare readonly bucket: pulumi.Output<string>;
    declare readonly key: pulumi.Output<string>;
    declare readonly sha256: pulumi.Output<string>;
    declare readonly size: pulumi.Output<number>;
    declare readonly versionId: pulumi.Output<string>;
    declare readonly uri: pulumi.Output<string>;
    declare readonly url: pulumi.Output<string>;

    constructor(name: string, args: ArtifactObjectArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            {
                type: "ArtifactObject",
                provider: "@image-factory/components/storage/artifact-object.provider",
                outputs: ["sha256", "size", "versionId", "etag", "uri", "url"],
                secrets: ["credentials"],
            },
            name,
            args,
            opts,
        );
    }
}
