// Small real OCI images pushed straight to a test registry: one gzipped tar
// layer made from the given files, a config, a manifest. Loadable into
// containers-storage (the layer is a real tar), made in milliseconds.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { run } from "../../components/exec";
import { RegistryClient, sha256Digest } from "../../components/registry/client";

/** An OCI image manifest for one config blob and one layer blob. */
export function ociManifest(config: Buffer, layer: Buffer, layerMediaType: string): Buffer {
    return Buffer.from(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256Digest(config), size: config.length },
            layers: [{ mediaType: layerMediaType, digest: sha256Digest(layer), size: layer.length }],
        }),
    );
}

export interface PushedImage {
    /** registry/repository@sha256:… */
    ref: string;
    digest: string;
    /** registry/repository:tag */
    tagged: string;
    /** Bytes of the manifest, config and layer. */
    bytes: number;
}

/**
 * Pushes an image whose one layer holds `files` (path → content) plus
 * `randomBytesCount` incompressible bytes in /random.bin, tagged `tag`.
 */
export async function pushImage(
    registry: string,
    repository: string,
    tag: string,
    files: Record<string, string | Buffer>,
    randomBytesCount = 0,
): Promise<PushedImage> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-layer-"));
    try {
        for (const [p, content] of Object.entries(files)) {
            await fs.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
            await fs.writeFile(path.join(dir, p), content);
        }
        if (randomBytesCount > 0) await fs.writeFile(path.join(dir, "random.bin"), randomBytes(randomBytesCount));
        const tar = (await run("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf", "-", "-C", dir, "."], { binaryStdout: true })).stdoutBytes!;
        // Random bytes do not compress: store them (gzip level 0) rather than spend seconds trying.
        const layer = gzipSync(tar, { level: randomBytesCount > 0 ? 0 : 6 });
        const config = Buffer.from(
            JSON.stringify({
                architecture: "amd64",
                os: "linux",
                config: { Cmd: ["/bin/true"] },
                rootfs: { type: "layers", diff_ids: [sha256Digest(tar)] },
            }),
        );
        const manifest = ociManifest(config, layer, "application/vnd.oci.image.layer.v1.tar+gzip");
        const client = new RegistryClient(registry);
        await client.putBlob(repository, sha256Digest(layer), layer);
        await client.putBlob(repository, sha256Digest(config), config);
        const digest = await client.putManifest(repository, tag, { body: manifest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
        return {
            ref: `${registry}/${repository}@${digest}`,
            digest,
            tagged: `${registry}/${repository}:${tag}`,
            bytes: manifest.length + config.length + layer.length,
        };
    } finally {
        await fs.rm(dir, { recursive: true, force: true });
    }
}

/** Pushes an OCI image index over `images` (already in `repository`), one platform each, tagged `tag`. */
export async function pushIndex(registry: string, repository: string, tag: string, images: Array<{ image: PushedImage; architecture: string }>): Promise<PushedImage> {
    const client = new RegistryClient(registry);
    const manifests = [];
    for (const { image, architecture } of images) {
        const m = await client.getManifest(repository, image.digest);
        if (!m) throw new Error(`${image.ref} is not in ${registry}/${repository}`);
        manifests.push({ mediaType: m.mediaType, digest: m.digest, size: m.body.length, platform: { architecture, os: "linux" } });
    }
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
    const digest = await client.putManifest(repository, tag, { body, mediaType: "application/vnd.oci.image.index.v1+json" });
    return { ref: `${registry}/${repository}@${digest}`, digest, tagged: `${registry}/${repository}:${tag}`, bytes: body.length + images.reduce((s, i) => s + i.image.bytes, 0) };
}
