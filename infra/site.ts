// Composes the site's components for its role. Data flows one way:
// config → components → outputs; nothing in components/ imports infra/.
import { readdirSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { PipelineImage } from "../components/acp";
import { cacheDir } from "../components/cache";
import { sha256Hex } from "../components/hash";
import {
    type Catalog,
    CatalogError,
    catalogSource,
    fileBytes,
    ImagePipeline,
    loadCatalog,
    type RemoteBuilder,
    refreshRequestedAt,
    renderBlueprint,
    renderKiwiRecipe,
    renderTestScript,
    type ResolvedImage,
    resolveImages,
    selectImages,
} from "../components/images";
import { parseRef, type RegistryAuth, RegistryMirror } from "../components/registry";
import { FleetRetention, FleetRollout, followedImage, groupEntry, reportRollout } from "../components/fleet";
import { type AcpInputs, checkAcp, deployAcp, vmTemplateImages } from "./acp";
import { definitionsCommit, mirroredOutput, withDevicePolicy } from "./supply-chain";
import { keyFingerprint } from "../components/supply-chain";
import { deployPrestage, releasedRefs } from "./prestage";
import { bootArtifactsOutput, bucketsOutput, deployArtifactStore, publishBootArtifacts, publishVmDisks } from "./artifacts";
import { type AcpSiteConfig, ConfigError, NAMESPACE, onAcp, type SiteConfig } from "./config";
import { projectRoot } from "./project-root";
import type { SiteResult } from "./outputs";
import { type BootArtifactsOutput, type DiskOutput, type ImageOutput, SiteReference } from "../components/contract";

const credentials = (username: string | undefined, password: pulumi.Output<string> | undefined) =>
    username && password ? pulumi.secret(password.apply((p) => ({ username, password: p }))) : undefined;

export function deploySite(config: SiteConfig): SiteResult {
    const root = projectRoot();
    // Validate the whole catalog and the site's selection before registering anything.
    const catalog = loadCatalog(path.resolve(root, config.images.catalog));
    const names = selectImages(catalog, config.images.select, "image-factory:images.select");
    const auth = credentials(config.registry.username, config.registry.password);
    // A site builds its images, or (served by a hub) mirrors the hub's.
    const source: { kind: "mirror"; hub: NonNullable<SiteConfig["hub"]> } | { kind: "build"; resolved: Map<string, ResolvedImage> } = config.hub
        ? { kind: "mirror", hub: config.hub }
        : { kind: "build", resolved: resolveImages(catalog, names, withDevicePolicy(catalog, config)) };
    const resolved = source.kind === "build" ? source.resolved : undefined;
    checkImageNames(config, names);

    // Roles acp and hub: the ACP's catalog-dependent keys are checked before anything is registered.
    const cluster = onAcp(config) ? config : undefined;
    const acpInputs: AcpInputs = {
        catalog: resolved && { images: pipelineImages(resolved), files: catalogFiles(catalog) },
        booted: resolved && [...resolved.values()].filter((r) => config.boot.enabled && r.boot.test).map((r) => r.def.name),
    };
    if (cluster) checkAcp(cluster, acpInputs);

    // Buckets for recipes, boot artifact sets and pre-staged disks.
    const store = deployArtifactStore(config);

    // The ACP's own services, registry, builder VM (where composes run) and in-cluster
    // pipeline, rendered from the same catalog and hashes.
    const acp = cluster ? deployAcp(cluster, { ...acpInputs, builderGeneration: resolved && builderGeneration(cluster, resolved) }) : undefined;
    // The booted disks of the images with VM templates are pushed as container disks too.
    const containerDisks = cluster && acpInputs.booted ? vmTemplateImages(cluster, acpInputs.booted) : [];
    const { pipeline, released } =
        source.kind === "build"
            ? buildImages(config, source.resolved, auth, root, containerDisks, acp?.remoteBuilder)
            : { pipeline: undefined, released: mirrorHub(source.hub, config.registry, names, auth, config.signing?.publicKey) };
    // Then the builder is released after its composes, and each container disk gets a VM template.
    const releasedDisks = Object.entries(pipeline?.containerDisks ?? {}).map(([name, d]) => ({ name, version: resolved!.get(name)!.def.version, diskRef: d.ref }));
    const acpDone = acp?.complete({ releasedDisks, builderWork: pipeline?.composes ?? [] });
    // Booted VM disks, with their kernel, initrd and manifest, go to the boot-images bucket.
    const images = store && pipeline ? publishVmDisks(store, pipeline, released) : released;
    // A hub with rollout groups moves each group's channel as the wave planner says;
    // a site in a group reports since when it runs each digest and its health.
    const rollout =
        pipeline && config.rollout
            ? new FleetRollout("rollout", {
                  ...config.rollout,
                  images: names,
                  registry: config.registry.url,
                  namespace: config.registry.namespace,
                  auth,
                  released: images,
                  builds: Object.fromEntries(names.map((n) => [n, pipeline.builds[n].history])),
                  now: Date.now(),
              }).output
            : undefined;
    // Retention: each repository's old builds go unless a fleet stack's outputs, a
    // pin or a channel references them (the rollout's sites are always asked).
    const retention = config.retention;
    if (pipeline && retention) {
        new FleetRetention("retention", {
            registry: config.registry.url,
            namespace: config.registry.namespace,
            auth,
            keepLast: Object.fromEntries(names.map((n) => [n, retention.repositories[n]?.keepLast ?? retention.keepLast])),
            builds: Object.fromEntries(names.map((n) => [n, pipeline.builds[n].history])),
            stacks: [...new Set([...retention.stacks, ...(config.rollout?.groups.flatMap((g) => g.sites) ?? [])])],
            own: { images, rollout: rollout ?? null },
        });
    }
    const rolloutReport = config.hub?.group ? reportRollout("rollout-report", { group: config.hub.group, images, probe: config.hub.healthProbe }) : undefined;

    const bootArtifacts: Record<string, pulumi.Output<BootArtifactsOutput>> = {};
    if (store) {
        // The image management service's view: each built image's recipes in the recipes
        // bucket — the kiwi-ng description and, beside it, the osbuild blueprint that
        // device-edge composes on a builder VM push — and the boot artifact sets of the
        // images that boot nodes.
        for (const [name, r] of resolved ?? []) {
            const bytesOf = (f: Parameters<typeof fileBytes>[1]) => fileBytes(catalog, f);
            const recipe = renderKiwiRecipe(r.chain, r.rootSource, bytesOf);
            recipe.set("blueprint.toml", Buffer.from(renderBlueprint(r.chain, bytesOf)));
            store.publish(`recipe-${name}`, {
                bucket: "recipes",
                key: `${name}/recipe.tgz`,
                source: { files: Object.fromEntries([...recipe].map(([rel, bytes]) => [rel, bytes.toString("base64")])) },
                metadata: { image: name, version: r.def.version, "definition-hash": r.definitionHash },
            });
        }
        for (const name of config.artifacts?.bootArtifacts ?? []) {
            const signing = config.signing?.key ? { key: config.signing.key, publicKey: config.signing.publicKey } : undefined;
            const set = publishBootArtifacts(store, name, images.apply((i) => i[name].ref), auth, signing);
            bootArtifacts[name] = bootArtifactsOutput(set);
        }
    }

    // Factory pre-staged disks with the released images (by digest); published to the
    // prestage bucket when the site has an artifact store.
    const disks = deployPrestage(config, releasedRefs(images));
    const published: Record<string, pulumi.Output<DiskOutput>> = {};
    for (const name of Object.keys(config.prestage.disks)) {
        const d = disks.apply((all) => all[name]);
        if (!store) {
            published[name] = d;
            continue;
        }
        const obj = store.publish(`disk-${name}`, { bucket: "prestage", key: d.apply((x) => path.basename(x.path)), source: d.apply((x) => ({ file: x.path })), sha256: d.sha256 });
        published[name] = pulumi.all([d, obj.url]).apply(([x, url]) => ({ ...x, url }));
    }
    const signing = config.signing && { publicKey: config.signing.publicKey, keyFingerprint: keyFingerprint(config.signing.publicKey) };
    return { images, vmTemplates: acpDone?.vmTemplates, buckets: store && bucketsOutput(store), bootArtifacts, disks: pulumi.all(published), rollout, rolloutReport, signing };
}

/** The site's own image pipeline: build → test → boot → release, into the site's registry. */
/**
 * What an ephemeral builder VM is made for: the definitions of the images composed on it.
 * A new one (an image or an ancestor changed) is a fresh VM, as the stopped one does not start again.
 */
function builderGeneration(config: AcpSiteConfig, resolved: Map<string, ResolvedImage>): string | undefined {
    const composes = config.acp.builderVm?.composes ?? [];
    return composes.length ? sha256Hex(composes.map((n) => resolved.get(n)?.definitionHash ?? n).join("\n")) : undefined;
}

function buildImages(
    config: SiteConfig,
    resolved: Map<string, ResolvedImage>,
    auth: pulumi.Output<RegistryAuth> | undefined,
    root: string,
    containerDisks: string[],
    remoteBuilder: RemoteBuilder | undefined,
) {
    const pipeline = new ImagePipeline("images", {
        images: resolved,
        registry: config.registry.url,
        namespace: config.registry.namespace,
        auth,
        channel: config.images.channel,
        pins: config.images.pins,
        storage: config.builder.storage ?? path.join(cacheDir(), "containers"),
        cacheDir: cacheDir(),
        reuseBuilds: config.builder.reuseBuilds,
        boot: config.boot.enabled
            ? {
                  dir: config.boot.dir ?? path.join(root, ".local/artifacts/vm-disks"),
                  format: config.boot.format,
                  size: config.boot.diskSize,
                  timeoutSeconds: config.boot.timeoutSeconds,
                  memoryMiB: config.boot.memoryMiB,
                  accel: config.boot.accel,
              }
            : undefined,
        signing: config.signing?.key && { key: config.signing.key, publicKey: config.signing.publicKey, commit: pulumi.output(definitionsCommit(root)) },
        refreshRequestedAt: refreshRequestedAt(),
        containerDisks,
        remoteBuilder,
    });
    return { pipeline, released: pipeline.released };
}

/** Image names the config hands to other parts must be selected catalog images (deploySite calls this before it registers anything). */
function checkImageNames(config: SiteConfig, names: string[]): void {
    const problems: string[] = [];
    const known = `(selected: ${names.join(", ")})`;
    for (const n of config.artifacts?.bootArtifacts ?? []) {
        if (!names.includes(n)) problems.push(`${NAMESPACE}:artifacts.bootArtifacts: "${n}" is not a selected catalog image ${known}`);
    }
    for (const [disk, d] of Object.entries(config.prestage.disks)) {
        for (const [set, entries] of Object.entries(d.contentSets)) {
            entries.forEach((e, i) => {
                if (!e.includes("/") && !names.includes(e)) problems.push(`${NAMESPACE}:prestage.disks.${disk}.contentSets.${set}[${i}]: "${e}" is not a selected catalog image ${known}`);
            });
        }
    }
    for (const n of Object.keys(config.retention?.repositories ?? {})) {
        if (!names.includes(n)) problems.push(`${NAMESPACE}:retention.repositories.${n}: "${n}" is not a selected catalog image ${known}`);
    }
    for (const [i, g] of (config.rollout?.groups ?? []).entries()) {
        for (const n of Object.keys(g.pins ?? {})) if (!names.includes(n)) problems.push(`${NAMESPACE}:rollout.groups[${i}].pins.${n}: "${n}" is not a selected catalog image ${known}`);
    }
    if (problems.length) throw new ConfigError(problems);
}

/** The catalog as the in-cluster pipeline needs it: each image's Containerfile, hash and tests. */
function pipelineImages(resolved: Map<string, ResolvedImage>): PipelineImage[] {
    return [...resolved.values()].map((r) => ({
        name: r.def.name,
        version: r.def.version,
        parent: r.parent,
        definitionHash: r.definitionHash,
        containerfile: r.containerfile,
        tests: r.def.tests,
        testScript: renderTestScript(r.def.tests),
    }));
}

/** Every file of the catalog folder, which the in-cluster pipeline compares its git checkout against. */
function catalogFiles(catalog: Catalog): Array<{ path: string; content: Buffer }> {
    // Every entry but folders, read the safe way: a link or a special file is an error, not skipped.
    const rels = readdirSync(catalog.dir, { recursive: true, withFileTypes: true })
        .filter((e) => !e.isDirectory())
        .map((e) => path.relative(catalog.dir, path.join(e.parentPath, e.name)));
    const problems: string[] = [];
    const files = rels.flatMap((rel) => {
        try {
            return [{ path: rel, content: catalogSource(catalog, rel) }];
        } catch (e) {
            problems.push(`${path.basename(catalog.dir)}/${rel}: ${(e as Error).message}`);
            return [];
        }
    });
    if (problems.length) throw new CatalogError(problems);
    return files.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * A site served by a hub: each selected image is copied by digest from the
 * hub's registry (only the blobs this registry lacks), with the hub's tags.
 * The site's outputs point at its own copies.
 */
function mirrorHub(
    hubConfig: NonNullable<SiteConfig["hub"]>,
    registry: SiteConfig["registry"],
    names: string[],
    auth: pulumi.Output<RegistryAuth> | undefined,
    /** The fleet's public key: only images signed with it are mirrored, with their signatures and attestations. */
    publicKey: string | undefined,
): pulumi.Output<Record<string, ImageOutput>> {
    const hub = new SiteReference(hubConfig.stack);
    const sourceAuth = credentials(hubConfig.username, hubConfig.password);
    const out: Record<string, pulumi.Output<ImageOutput>> = {};
    const group = hubConfig.group;
    for (const name of names) {
        const hubImage = hub.image(name);
        // In a rollout group: the group's channel digest, not the hub's latest.
        const img = group ? pulumi.all([hubImage, hub.outputs]).apply(([i, o]) => {
            const e = groupEntry(hub.name, o.rollout, group, name);
            return followedImage(i, e, group, e.ref);
        }) : hubImage;
        const source = img.apply((i) => parseRef(i.ref));
        const mirror = new RegistryMirror(name, {
            name,
            sourceRegistry: source.registry,
            sourceRepository: source.repository,
            digest: img.digest,
            registry: registry.url,
            repository: `${registry.namespace}/${name}`,
            tags: img.tags,
            sourceAuth,
            auth,
            ...(publicKey ? { publicKey } : {}),
        });
        out[name] = pulumi.all([img, mirror.ref]).apply(([i, ref]) => mirroredOutput(i, ref));
    }
    return pulumi.all(out);
}
