import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { ManifestEntry } from "./archives";
import type { BuiltDisk, DiskManifestSignature, PartitionFile } from "./build";
import type { DiskFormat, Filesystem } from "./layout";
import { DEFAULT_MOUNT_POINT } from "./tooling";

export interface PreStagedDiskArgs {
    /** Absolute path of the disk artifact. */
    path: pulumi.Input<string>;
    /** The disk's size: "120GiB", "8G", or bytes. */
    size: pulumi.Input<string | number>;
    /** Default raw. */
    format?: pulumi.Input<DiskFormat>;
    /** GPT partition label (also the filesystem label). Default "data". */
    label?: pulumi.Input<string>;
    /** Default xfs. */
    filesystem?: pulumi.Input<Filesystem>;
    /** Free space on top of the content, in percent. Default 10. */
    headroomPercent?: pulumi.Input<number>;
    /** Where the node's units mount the partition. Default /var/mnt/prestage. */
    mountPoint?: pulumi.Input<string>;
    /** Folder on the partition → image references (registry/repository@sha256:…, or a tag, pinned at preview). */
    contentSets: pulumi.Input<Record<string, pulumi.Input<pulumi.Input<string>[]>>>;
    /** More files on the partition: {path, content} or {path, source: absolute path}. */
    extraFiles?: pulumi.Input<pulumi.Input<{ path: string; content?: string; source?: string }>[]>;
    /** Credentials for one registry (the password stays a secret). */
    credentials?: pulumi.Input<{ registry: pulumi.Input<string>; username: pulumi.Input<string>; password: pulumi.Input<string> }>;
    /** The fleet's private key (PEM; kept a secret): with it, the disk's manifest is signed. */
    signingKey?: pulumi.Input<string>;
    /** Its public half (PEM), required with signingKey. */
    publicKey?: pulumi.Input<string>;
}

/**
 * A factory pre-staged disk: GPT, one partition at the end of the disk holding
 * image archives (one folder per content set), the load script, its systemd
 * units and an ignition snippet. Built atomically; remade only when an input
 * changes (image references are pinned by digest).
 */
export class PreStagedDisk extends FactoryResource {
    declare readonly path: pulumi.Output<string>;
    declare readonly format: pulumi.Output<DiskFormat>;
    declare readonly sha256: pulumi.Output<string>;
    declare readonly size: pulumi.Output<number>;
    declare readonly allocatedSize: pulumi.Output<number>;
    declare readonly contentBytes: pulumi.Output<number>;
    declare readonly partition: pulumi.Output<BuiltDisk["partition"]>;
    declare readonly manifest: pulumi.Output<ManifestEntry[]>;
    declare readonly files: pulumi.Output<PartitionFile[]>;
    declare readonly ignition: pulumi.Output<string>;
    /** The signed manifest beside the disk file and its signature; null without a signing key. */
    declare readonly manifestSignature: pulumi.Output<DiskManifestSignature | null>;

    constructor(name: string, args: PreStagedDiskArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            {
                type: "PreStagedDisk",
                provider: "@image-factory/components/prestage/disk.provider",
                outputs: ["sha256", "size", "allocatedSize", "contentBytes", "partition", "manifest", "files", "ignition", "manifestSignature"],
                secrets: ["credentials", "signingKey"],
            },
            name,
            {
                path: args.path,
                diskSize: args.size,
                format: args.format ?? "raw",
                label: args.label ?? "data",
                filesystem: args.filesystem ?? "xfs",
                headroomPercent: args.headroomPercent ?? 10,
                mountPoint: args.mountPoint ?? DEFAULT_MOUNT_POINT,
                contentSets: args.contentSets,
                extraFiles: args.extraFiles ?? [],
                credentials: args.credentials,
                signingKey: args.signingKey,
                publicKey: args.publicKey,
            },
            opts,
        );
    }
}
