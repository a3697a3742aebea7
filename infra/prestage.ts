// The site's factory pre-staged disks (image-factory:prestage): one
// PreStagedDisk per configured disk, catalog image names resolved to the
// images this site released, by digest.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PreStagedDisk } from "../components/prestage";
import type { SiteConfig } from "./config";
import type { DiskOutput, ImageOutput } from "../components/contract";
import { projectRoot } from "./project-root";

/** Where disks go when image-factory:prestage.dir is not set. */
export const defaultDiskDir = () => path.join(projectRoot(), ".local/artifacts/disks");

/**
 * Content set entries → image references: a catalog image name becomes the
 * ref this site released (registry/repository@sha256:…); a full reference
 * (it has a "/") stays as written. An unknown name is an error naming its key.
 */
export function resolveContentSets(disk: string, contentSets: Record<string, string[]>, released: Record<string, string>): Record<string, string[]> {
    const problems: string[] = [];
    const out: Record<string, string[]> = {};
    for (const [set, entries] of Object.entries(contentSets)) {
        out[set] = entries.map((entry, i) => {
            if (entry.includes("/")) return entry;
            const ref = released[entry];
            if (!ref) {
                const known = Object.keys(released).sort();
                problems.push(
                    `image-factory:prestage.disks.${disk}.contentSets.${set}[${i}]: "${entry}" is not an image this site releases (released: ${known.length ? known.join(", ") : "none"})`,
                );
            }
            return ref;
        });
    }
    if (problems.length) throw new Error(problems.join("\n"));
    return out;
}

/** Catalog image name → its released ref by digest, from the `images` stack output. */
export function releasedRefs(images: pulumi.Input<Record<string, pulumi.Input<ImageOutput>>>): pulumi.Output<Record<string, string>> {
    return pulumi.output(images).apply((all) => Object.fromEntries(Object.entries(all).map(([name, image]) => [name, image.ref])));
}

/**
 * Declares the configured disks. In infra/site.ts:
 *   `return { images, disks: deployPrestage(config, releasedRefs(images)) };` `releasedImageRefs` maps catalog image names
 * to their released refs by digest (the image pipeline's output).
 */
export function deployPrestage(
    config: SiteConfig,
    releasedImageRefs: pulumi.Input<Record<string, string>>,
    opts: pulumi.CustomResourceOptions = {},
): pulumi.Output<Record<string, DiskOutput>> {
    const dir = config.prestage.dir ?? defaultDiskDir();
    const credentials =
        config.registry.username && config.registry.password
            ? pulumi.secret({ registry: config.registry.url, username: config.registry.username, password: config.registry.password })
            : undefined;
    const disks: Record<string, pulumi.Output<DiskOutput>> = {};
    for (const [name, d] of Object.entries(config.prestage.disks)) {
        const disk = new PreStagedDisk(
            name,
            {
                path: path.join(dir, `${name}.${d.format}`),
                size: d.size,
                format: d.format,
                label: d.label,
                filesystem: d.filesystem,
                headroomPercent: d.headroom,
                mountPoint: d.mountPoint,
                contentSets: pulumi.output(releasedImageRefs).apply((released) => resolveContentSets(name, d.contentSets, released)),
                extraFiles: d.extraFiles.map((f) => (f.source !== undefined ? { path: f.path, source: path.resolve(projectRoot(), f.source) } : f)),
                credentials,
                // With the fleet key the disk's manifest is signed (a site that only mirrors has no key: unsigned).
                ...(config.signing?.key ? { signingKey: config.signing.key, publicKey: config.signing.publicKey } : {}),
            },
            opts,
        );
        disks[name] = pulumi
            .all([pulumi.all([disk.path, disk.format, disk.sha256, disk.size, disk.allocatedSize, disk.partition, disk.manifest, disk.ignition]), disk.manifestSignature])
            .apply(([[p, format, sha256, size, allocatedSize, partition, manifest, ignition], manifestSignature]) => ({
                path: p,
                format,
                sha256,
                size,
                allocatedSize,
                partition: { start: partition.start, end: partition.end, label: partition.label, filesystem: partition.filesystem },
                manifest: manifest.map((m) => ({ contentSet: m.contentSet, ref: m.ref, digest: m.digest, archive: m.archive, archiveSha256: m.archiveSha256 })),
                ignition,
                manifestSignature: manifestSignature ?? null,
            }));
    }
    return pulumi.output(disks);
}
