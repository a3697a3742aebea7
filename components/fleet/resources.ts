// The fleet package's dynamic resources. Each loads its provider by package name
// in the engine's provider host (see components/dynamic.ts).
import type * as pulumi from "@pulumi/pulumi";
import { FactoryResource } from "../dynamic";
import type { RegistryAuth } from "../registry/client";
import type { GroupChannelInputs } from "./channel.provider";
import type { Health, SiteReleaseInputs } from "./report.provider";
import type { RegistryRetentionInputs, RetentionRemoval } from "./retention.provider";

type Args<T> = { [K in keyof T]: K extends "auth" ? pulumi.Input<RegistryAuth> | undefined : pulumi.Input<T[K]> };

/** A group's channel tag for one image in the hub's registry. */
export class GroupChannel extends FactoryResource {
    declare readonly digest: pulumi.Output<string>;
    declare readonly status: pulumi.Output<string>;
    declare readonly reason: pulumi.Output<string>;

    constructor(name: string, args: Args<GroupChannelInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "GroupChannel", provider: "@image-factory/components/fleet/channel.provider", secrets: ["auth"] }, name, args, opts);
    }
}

/** What a site of a rollout group reports: since when it runs each digest, and its health. */
export class SiteRelease extends FactoryResource {
    declare readonly since: pulumi.Output<Record<string, string>>;
    declare readonly health: pulumi.Output<Health | null>;

    constructor(name: string, args: Args<SiteReleaseInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "SiteRelease", provider: "@image-factory/components/fleet/report.provider", outputs: ["since", "health"] }, name, args, opts);
    }
}

/** Deletes the manifests a retention plan removes from one repository (rechecked at run time). */
export class RegistryRetention extends FactoryResource {
    declare readonly deleted: pulumi.Output<RetentionRemoval[]>;
    declare readonly skipped: pulumi.Output<Array<{ digest: string; why: string }>>;
    declare readonly bytesFreed: pulumi.Output<number>;

    constructor(name: string, args: Args<RegistryRetentionInputs>, opts?: pulumi.CustomResourceOptions) {
        super({ type: "RegistryRetention", provider: "@image-factory/components/fleet/retention.provider", outputs: ["deleted", "skipped", "bytesFreed"], secrets: ["auth"] }, name, args, opts);
    }
}
