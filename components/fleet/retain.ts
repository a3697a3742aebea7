// FleetRetention: per repository of this stack, the retention plan (pure, see
// retention.ts) from what the registry holds now, the builds this stack made and
// every digest any fleet stack's outputs reference; applied by a
// RegistryRetention resource, so a preview shows what would go and its bytes.
import * as pulumi from "@pulumi/pulumi";
import { type RegistryAuth, RegistryClient } from "../registry/client";
import { RegistryRetention } from "./resources";
import { type BuiltManifest, planRetention, referencedDigests, type RetentionPlan } from "./retention";

export interface FleetRetentionArgs {
    registry: string;
    namespace: string;
    auth?: pulumi.Input<RegistryAuth>;
    /** image → how many of its newest builds to keep. */
    keepLast: Record<string, number>;
    /** image → the builds this stack made (the pipeline's history). */
    builds: pulumi.Input<Record<string, pulumi.Input<BuiltManifest[]>>>;
    /** Fleet stacks whose outputs protect every digest they mention (organization/project/stack). */
    stacks: string[];
    /** What this stack itself references (its own outputs: releases, pins, rollout channels), by reason. */
    own: pulumi.Input<Record<string, unknown>>;
    /** What a repository holds; default: asks the registry (readRepository). */
    read?: (repository: string, digests: string[]) => Promise<{ tags: Record<string, string>; blobs: Record<string, Descriptor[]> }>;
}

interface Descriptor {
    digest: string;
    size: number;
}

/** A manifest's blobs: config and layers; an index's children's too. */
async function blobsOf(client: RegistryClient, repository: string, digest: string): Promise<Descriptor[] | undefined> {
    const m = await client.getManifest(repository, digest);
    if (!m) return undefined;
    const json = JSON.parse(m.body.toString("utf8")) as { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
    const out = [...(json.config ? [json.config] : []), ...(json.layers ?? [])].map((d) => ({ digest: d.digest, size: d.size }));
    for (const child of json.manifests ?? []) out.push(...((await blobsOf(client, repository, child.digest)) ?? []));
    return out;
}

/** What the registry holds for one repository: tag targets and the blobs of every digest that matters. */
export async function readRepository(client: RegistryClient, repository: string, digests: string[]): Promise<{ tags: Record<string, string>; blobs: Record<string, Descriptor[]> }> {
    const tags: Record<string, string> = {};
    for (const t of await client.listTags(repository)) {
        const d = await client.resolve(repository, t);
        if (d) tags[t] = d;
    }
    const blobs: Record<string, Descriptor[]> = {};
    for (const d of new Set([...digests, ...Object.values(tags)])) {
        const b = await blobsOf(client, repository, d);
        if (b) blobs[d] = b;
    }
    return { tags, blobs };
}

export class FleetRetention extends pulumi.ComponentResource {
    /** image → its plan. */
    readonly plans: Record<string, pulumi.Output<RetentionPlan>> = {};
    readonly resources: Record<string, RegistryRetention> = {};

    constructor(name: string, args: FleetRetentionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:fleet:FleetRetention", name, {}, opts);
        const refs = args.stacks.map((s) => new pulumi.StackReference(`${name}-${s}`, { name: s }, { parent: this }));
        // digest → who references it: every fleet stack's outputs, and this stack's own.
        const protectedBy = pulumi.all([pulumi.all(refs.map((r) => r.outputs)), pulumi.output(args.own)]).apply(([all, own]) => {
            const by: Record<string, string[]> = {};
            const add = (digests: Set<string>, who: string) => {
                for (const d of digests) by[d] = [...(by[d] ?? []), who];
            };
            for (const [i, s] of args.stacks.entries()) add(referencedDigests(all[i]), `${s}'s outputs reference it`);
            add(referencedDigests(own), "this stack's outputs reference it");
            return by;
        });
        const builds = pulumi.output(args.builds) as pulumi.Output<Record<string, BuiltManifest[]>>;
        for (const [image, keepLast] of Object.entries(args.keepLast)) {
            const repository = `${args.namespace}/${image}`;
            const imageBuilds = builds.apply((b) => b[image] ?? []);
            const plan = pulumi.all([imageBuilds, protectedBy, pulumi.output(args.auth)]).apply(async ([b, prot, auth]) => {
                const read = args.read ?? ((repo: string, digests: string[]) => readRepository(new RegistryClient(args.registry, { auth }), repo, digests));
                const { tags, blobs } = await read(
                    repository,
                    b.map((x) => x.digest),
                );
                const versionTags = [...new Set(b.map((x) => x.version))];
                return { ...planRetention({ keepLast, builds: b, tags, versionTags, protectedBy: prot, blobs }), versionTags, protected: Object.keys(prot) };
            });
            this.plans[image] = plan;
            this.resources[image] = new RegistryRetention(
                image,
                {
                    registry: args.registry,
                    repository,
                    remove: plan.apply((p) => p.remove.map((r) => ({ digest: r.digest, version: r.version, tags: r.tags, bytes: r.bytes }))),
                    protected: plan.apply((p) => p.protected),
                    versionTags: plan.apply((p) => p.versionTags),
                    auth: args.auth,
                },
                { parent: this },
            );
        }
        this.registerOutputs({});
    }
}
