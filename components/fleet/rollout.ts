// The hub's side of a staged rollout: reads every site's outputs (StackReference),
// plans each group's channel with the pure planner, and points one GroupChannel
// per group and image. The site's side: follow the group's channel, report back.
import * as pulumi from "@pulumi/pulumi";
import type { ImageOutput, RolloutImageOutput, RolloutOutput, RolloutReportOutput } from "../contract";
import { ContractError, SCHEMA_VERSION } from "../contract";
import { RegistryClient, type RegistryAuth } from "../registry/client";
import { type GroupImagePlan, type GroupSpec, type HealthCondition, planRollout, type RolloutPlan, type SiteReport } from "./plan";
import { GroupChannel, SiteRelease } from "./resources";

/** One build the hub knows: its digest, version and definition hash. */
export interface KnownBuild {
    digest: string;
    version: string;
    definitionHash: string;
}

export interface FleetRolloutArgs {
    groups: GroupSpec[];
    soakSeconds: number;
    health: HealthCondition;
    /** The images whose channels move (the hub's selected images). */
    images: string[];
    /** The hub's registry and repository prefix: <registry>/<namespace>/<image>. */
    registry: string;
    namespace: string;
    auth?: pulumi.Input<RegistryAuth>;
    /** The hub's released images (its outputs' `images`). */
    released: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>;
    /** Builds the hub knows per image (the pipeline's history), to name a held digest's version. */
    builds: pulumi.Input<Record<string, pulumi.Input<KnownBuild[]>>>;
    /** The clock (ms since the epoch); the program passes Date.now(). */
    now: number;
    /** Where a channel tag points now; default: asks the hub's registry. */
    channelTarget?: (repository: string, tag: string) => Promise<string | undefined>;
}

/** A site's report, from its raw stack outputs; undefined when it publishes none (not deployed yet). */
export function siteReport(stack: string, outputs: Record<string, unknown>): SiteReport | undefined {
    if (outputs.schemaVersion === undefined) return undefined;
    if (outputs.schemaVersion !== SCHEMA_VERSION) throw new ContractError(`${stack} publishes outputs schemaVersion ${JSON.stringify(outputs.schemaVersion)}; this hub reads ${SCHEMA_VERSION}`);
    const images = (outputs.images ?? {}) as Record<string, ImageOutput & { boot?: { targetReached: boolean } }>;
    const report = (outputs.rolloutReport ?? null) as RolloutReportOutput | null;
    return {
        group: report?.group,
        images: Object.fromEntries(
            Object.entries(images).map(([name, img]) => [
                name,
                { digest: img.digest, since: report?.images[name]?.digest === img.digest ? report.images[name].since : undefined, tests: img.tests, boot: img.boot },
            ]),
        ),
        health: report?.health ?? undefined,
    };
}

/** The rollout output entry of one group's image. */
export function rolloutImage(registry: string, repository: string, plan: GroupImagePlan, builds: KnownBuild[]): RolloutImageOutput {
    const build = plan.digest ? [...builds].reverse().find((b) => b.digest === plan.digest) : undefined;
    return {
        ref: plan.digest ? `${registry}/${repository}@${plan.digest}` : null,
        digest: plan.digest,
        version: build?.version ?? null,
        definitionHash: build?.definitionHash ?? null,
        status: plan.status,
        reason: plan.reason,
        ...(plan.waitUntil ? { waitUntil: plan.waitUntil } : {}),
    };
}

/**
 * The hub's rollout: one GroupChannel per group and image, pointed where the
 * planner says, and the `rollout` output sites follow.
 */
export class FleetRollout extends pulumi.ComponentResource {
    readonly plan: pulumi.Output<RolloutPlan>;
    /** "<group>/<image>" → its channel tag. */
    readonly channels: Record<string, GroupChannel> = {};
    /** The hub's `rollout` output. */
    readonly output: pulumi.Output<RolloutOutput>;

    constructor(name: string, args: FleetRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:fleet:FleetRollout", name, {}, opts);
        const repo = (image: string) => `${args.namespace}/${image}`;
        const released = pulumi.output(args.released) as pulumi.Output<Record<string, ImageOutput>>;

        // Every site's outputs; a stack that publishes none yet reports nothing.
        const stacks = [...new Set(args.groups.flatMap((g) => g.sites))];
        const refs = stacks.map((s) => new pulumi.StackReference(`${name}-${s}`, { name: s }, { parent: this }));
        const reports = pulumi.all(refs.map((r) => r.outputs)).apply((all) => Object.fromEntries(stacks.map((s, i) => [s, siteReport(s, all[i] as Record<string, unknown>)])));

        // Where each channel points now: the registry is the truth (a tag moved by hand counts).
        const current = pulumi.output(args.auth).apply(async (auth) => {
            const client = new RegistryClient(args.registry, { auth });
            const target = args.channelTarget ?? ((repository: string, tag: string) => client.resolve(repository, tag));
            const out: Record<string, Record<string, string | undefined>> = {};
            for (const g of args.groups) {
                out[g.name] = {};
                for (const image of args.images) out[g.name][image] = await target(repo(image), g.name);
            }
            return out;
        });

        this.plan = pulumi
            .all([released, reports, current])
            .apply(([release, reps, cur]) =>
                planRollout({ groups: args.groups, images: args.images, release, current: cur, reports: reps, soakSeconds: args.soakSeconds, health: args.health, now: args.now }),
            );
        for (const g of args.groups) {
            for (const image of args.images) {
                const p = this.plan.apply((plan) => plan.groups.find((x) => x.name === g.name)!.images[image]);
                this.channels[`${g.name}/${image}`] = new GroupChannel(
                    `${g.name}-${image}`,
                    {
                        image,
                        group: g.name,
                        registry: args.registry,
                        repository: repo(image),
                        tag: g.name,
                        digest: p.apply((x) => x.digest ?? ""),
                        status: p.apply((x) => x.status),
                        reason: p.apply((x) => x.reason),
                        auth: args.auth,
                    },
                    // The digest comes from the release's outputs, so the release happens first.
                    { parent: this },
                );
            }
        }
        const builds = pulumi.output(args.builds) as pulumi.Output<Record<string, KnownBuild[]>>;
        this.output = pulumi.all([this.plan, builds]).apply(([plan, b]) => ({
            soakSeconds: args.soakSeconds,
            groups: plan.groups.map((g) => ({
                name: g.name,
                channel: g.name,
                sites: args.groups.find((x) => x.name === g.name)!.sites,
                images: Object.fromEntries(Object.entries(g.images).map(([image, p]) => [image, rolloutImage(args.registry, repo(image), p, b[image] ?? [])])),
            })),
        }));
        this.registerOutputs({ rollout: this.output });
    }
}

/** What a site of a group mirrors: its group's channel entry for `image`, or an error saying why there is none. */
export function groupEntry(hubStack: string, rollout: RolloutOutput | null | undefined, group: string, image: string): RolloutImageOutput & { digest: string; ref: string } {
    if (!rollout) throw new ContractError(`image-factory:hub.group: ${hubStack} publishes no rollout (set image-factory:rollout on the hub, or remove hub.group)`);
    const g = rollout.groups.find((x) => x.name === group);
    if (!g) throw new ContractError(`image-factory:hub.group: ${hubStack} has no rollout group "${group}" (it has: ${rollout.groups.map((x) => x.name).join(", ")})`);
    const e = g.images[image];
    if (!e) throw new ContractError(`${hubStack}'s rollout group ${group} has no image "${image}" (it has: ${Object.keys(g.images).sort().join(", ") || "none"})`);
    if (!e.digest || !e.ref) throw new ContractError(`${hubStack}'s channel ${group} has no ${image} yet (${e.status}: ${e.reason}); up this site once its group's channel is set`);
    return e as RolloutImageOutput & { digest: string; ref: string };
}

/** The site's image output for a group's channel entry: the hub image's fields, and the entry's digest, version and tags. */
export function followedImage(hubImage: ImageOutput, entry: RolloutImageOutput & { digest: string }, group: string, ref: string): ImageOutput {
    const same = entry.digest === hubImage.digest;
    const version = entry.version ?? (same ? hubImage.version : "unknown");
    return {
        ref,
        digest: entry.digest,
        tags: [...((entry.version ?? (same ? hubImage.version : undefined)) ? [version] : []), "latest", group],
        version,
        parent: hubImage.parent,
        definitionHash: entry.definitionHash ?? (same ? hubImage.definitionHash : "unknown"),
        // Test results belong to the hub's latest build; a held older digest was tested when it was built.
        ...(same && hubImage.tests ? { tests: hubImage.tests } : {}),
        ...signedAs(hubImage, entry.digest, same),
    };
}

/**
 * The signature and attestation references of a followed digest: the hub's own for
 * its latest build; for an older digest (signed when it was built, or it would not
 * have been released) the same cosign tag scheme beside it, with the manifests'
 * digests not recorded (null) and no SBOM summary.
 */
function signedAs(hubImage: ImageOutput, digest: string, same: boolean): Pick<ImageOutput, "signature" | "attestations" | "sbom"> {
    if (!hubImage.signature) return {};
    if (same) return { signature: hubImage.signature, attestations: hubImage.attestations, sbom: hubImage.sbom };
    const repository = hubImage.ref.split("@")[0];
    const tag = (kind: string) => `${repository}:${digest.replace(":", "-")}.${kind}`;
    return { signature: { ref: tag("sig"), digest: null }, attestations: { ref: tag("att"), digest: null }, sbom: null };
}

export interface SiteRolloutArgs {
    group: string;
    /** The site's released images (after mirroring). */
    images: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>;
    /** An http(s) URL that answers 2xx when the site is healthy. */
    probe?: string;
}

/** The site's `rolloutReport` output: since when it runs each digest, and its probe's health. */
export function reportRollout(name: string, args: SiteRolloutArgs, opts?: pulumi.CustomResourceOptions): pulumi.Output<RolloutReportOutput> {
    const digests = pulumi.output(args.images).apply((imgs) => Object.fromEntries(Object.entries(imgs).map(([n, i]) => [n, (i as ImageOutput).digest])));
    const release = new SiteRelease(name, { group: args.group, digests, probe: args.probe ?? "" }, opts);
    return pulumi.all([digests, release.since, release.health]).apply(([d, since, health]) => ({
        group: args.group,
        images: Object.fromEntries(Object.entries(d).map(([n, digest]) => [n, { digest, since: since[n] }])),
        health,
    }));
}
