// ContainerDisk: a booted VM disk as a KubeVirt container disk in the site's
// registry, which CDI imports into the ACP's VM templates (by digest). The image
// is written here as an OCI layout, byte for byte the same for the same disk:
// one uncompressed layer holding only disk/disk.<format> (owner 107:107, the
// qemu user KubeVirt runs as; mode 0440; mtime 0), a config without dates or
// labels, and the manifest; skopeo pushes it with its digest preserved. So the
// digest depends only on the disk's bytes: keyed by the disk's sha256, a no-op
// pushes nothing and a new disk is a new container disk.
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import type { ProviderImpl } from "../dynamic";
import { diffOn, isUnknown } from "../dynamic";
import { run } from "../exec";
import { sha256Hasher } from "../hash";
import { FORMATS, type DiskFormat } from "../prestage/layout";
import { containerToolFlags, isValidRepository, isValidTag, readHostedManifest, RegistryClient, type RegistryAuth, sha256Digest, withAuthFile } from "../registry/client";
import { withTempDir } from "../temp-dir";

export interface ContainerDiskInputs {
    /** Catalog image name the disk was made from. */
    image: string;
    /** The image's version: the container disk's tag. */
    version: string;
    /** host[:port] */
    registry: string;
    /** e.g. hub/base-disk */
    repository: string;
    /** The booted VM disk file and what it was when it booted. */
    path: string;
    format: DiskFormat;
    sha256: string;
    auth?: RegistryAuth;
}

export interface ContainerDiskOutputs extends ContainerDiskInputs {
    /** The manifest's digest. */
    digest: string;
    /** host/repo@sha256:… */
    ref: string;
    /** The one layer: the tar of disk/disk.<format>. */
    layer: { digest: string; size: number };
}

/** KubeVirt's qemu user and group: a container disk's file belongs to them. */
export const QEMU_UID = 107;
const OCI = {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar",
};
const SHA256 = /^[a-f0-9]{64}$/;
const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const BLOCK = 512;

/** A tar header (ustar; a size of 8 GiB or more in GNU base-256) with fixed owner, group and mtime. */
export function tarHeader(name: string, type: "file" | "dir", size: number, mode: number): Buffer {
    const h = Buffer.alloc(BLOCK);
    const octal = (value: number, offset: number, width: number) => h.write(`${value.toString(8).padStart(width - 1, "0")}\0`, offset, width, "ascii");
    h.write(name, 0, 100, "ascii");
    octal(mode, 100, 8);
    octal(QEMU_UID, 108, 8);
    octal(QEMU_UID, 116, 8);
    if (size < 8 ** 11) octal(size, 124, 12);
    else {
        h[124] = 0x80;
        h.writeBigUInt64BE(BigInt(size), 128);
    }
    octal(0, 136, 12); // mtime
    h.write(type === "dir" ? "5" : "0", 156, 1, "ascii");
    h.write("ustar\0" + "00", 257, 8, "ascii");
    // The checksum: the header's byte sum with its own field counted as spaces.
    h.fill(" ", 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
    return h;
}

/** The layer's name for the disk, where KubeVirt and CDI look for it. */
export const diskEntry = (format: DiskFormat) => `disk/disk.${format === "qcow2" ? "qcow2" : "img"}`;

/**
 * Writes the container disk of `i.path` as an OCI layout in `dir` (tagged
 * `i.version`). The disk is read once: its sha256 must still be the booted one.
 */
export async function writeContainerDisk(
    dir: string,
    i: Pick<ContainerDiskInputs, "image" | "version" | "path" | "format" | "sha256">,
): Promise<{ digest: string; layer: { digest: string; size: number } }> {
    const blobs = path.join(dir, "blobs", "sha256");
    await fs.mkdir(blobs, { recursive: true });
    const size = (await fs.stat(i.path)).size;
    const head = Buffer.concat([tarHeader("disk/", "dir", 0, 0o555), tarHeader(diskEntry(i.format), "file", size, 0o440)]);
    const tail = Buffer.alloc(((BLOCK - (size % BLOCK)) % BLOCK) + 2 * BLOCK);
    const layerHash = sha256Hasher();
    const diskHash = sha256Hasher();
    async function* tar() {
        layerHash.update(head);
        yield head;
        for await (const chunk of createReadStream(i.path, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
            diskHash.update(chunk);
            layerHash.update(chunk);
            yield chunk;
        }
        layerHash.update(tail);
        yield tail;
    }
    const layerFile = path.join(blobs, "layer.tmp");
    await pipeline(tar, createWriteStream(layerFile));
    const seen = diskHash.hex();
    if (seen !== i.sha256) {
        throw new Error(`${i.image}: the VM disk ${i.path} changed since it was booted (sha256 ${seen}, booted ${i.sha256}); run \`up\` again to remake and boot it`);
    }
    const layer = { digest: `sha256:${layerHash.hex()}`, size: head.length + size + tail.length };
    await fs.rename(layerFile, path.join(blobs, layer.digest.slice(7)));
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [layer.digest] } }));
    const manifest = Buffer.from(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI.manifest,
            config: { mediaType: OCI.config, digest: sha256Digest(config), size: config.length },
            layers: [{ mediaType: OCI.layer, digest: layer.digest, size: layer.size }],
        }),
    );
    const digest = sha256Digest(manifest);
    for (const blob of [config, manifest]) await fs.writeFile(path.join(blobs, sha256Digest(blob).slice(7)), blob);
    await fs.writeFile(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const ref = { mediaType: OCI.manifest, digest, size: manifest.length, annotations: { "org.opencontainers.image.ref.name": i.version } };
    await fs.writeFile(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [ref] }));
    return { digest, layer };
}

const log = (i: ContainerDiskInputs, line: string) => console.log(`[container-disk ${i.image}] ${line}`);

async function push(i: ContainerDiskInputs): Promise<ContainerDiskOutputs> {
    const where = `${i.registry}/${i.repository}`;
    const started = Date.now();
    const made = await withTempDir(`if-container-disk-${i.image}-`, async (dir) => {
        const layout = path.join(dir, "layout");
        const written = await writeContainerDisk(layout, i);
        log(i, `pushing ${where}:${i.version} (${written.digest}, layer ${(written.layer.size / 1048576).toFixed(1)} MiB)`);
        await withAuthFile(i.registry, i.auth, (authFile) =>
            run("skopeo", ["copy", "--quiet", "--preserve-digests", ...containerToolFlags(i.registry, authFile, "dest"), `oci:${layout}:${i.version}`, `docker://${where}:${i.version}`], {
                timeoutMs: 60 * 60_000,
                secrets: i.auth ? [i.auth.password] : [],
            }),
        );
        return written;
    });
    const client = new RegistryClient(i.registry, { auth: i.auth });
    for (const reference of [made.digest, i.version]) {
        const now = await client.resolve(i.repository, reference);
        if (now !== made.digest) throw new Error(`${i.image}: ${where}:${reference} is ${now ?? "missing"}, not ${made.digest}, after the push`);
    }
    log(i, `${where}@${made.digest} from ${path.basename(i.path)} in ${Math.round((Date.now() - started) / 1000)}s`);
    return { ...i, digest: made.digest, ref: `${where}@${made.digest}`, layer: made.layer };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        const bad = (property: string, ok: (v: unknown) => boolean, reason: string) => {
            if (!isUnknown(news[property]) && !ok(news[property])) failures.push({ property, reason: `${reason}, got ${JSON.stringify(news[property])}` });
        };
        const str = (v: unknown): v is string => typeof v === "string";
        bad("image", (v) => str(v) && IMAGE_NAME.test(v), "image must be a catalog image name");
        bad("version", (v) => str(v) && isValidTag(v), "version must be a valid tag");
        bad("repository", (v) => str(v) && isValidRepository(v), "repository must be a valid repository name");
        bad("path", (v) => str(v) && path.isAbsolute(v), "path must be an absolute path");
        bad("format", (v) => FORMATS.includes(v as DiskFormat), `format must be one of ${FORMATS.join(", ")}`);
        bad("sha256", (v) => str(v) && SHA256.test(v), "sha256 must be 64 hex digits");
        return { inputs: news, failures };
    },
    // Another disk (or place) is another container disk; a new version only moves the tag.
    diff: diffOn(["registry", "repository", "format", "sha256"], ["image", "version", "path", "auth"]),
    async create(inputs) {
        const outs = await push(inputs as ContainerDiskInputs);
        return { id: outs.ref, outs };
    },
    async update(_id, olds, news) {
        const o = olds as ContainerDiskOutputs;
        const n = news as ContainerDiskInputs;
        if (n.version !== o.version) {
            await new RegistryClient(n.registry, { auth: n.auth }).tag(n.repository, o.digest, n.version);
            log(n, `${n.registry}/${n.repository}:${n.version} → ${o.digest}`);
        }
        return { outs: { ...o, ...n } };
    },
    read: (id, props) => readHostedManifest(id, props as ContainerDiskOutputs),
    async delete(_id, props) {
        const p = props as ContainerDiskOutputs;
        await new RegistryClient(p.registry, { auth: p.auth }).deleteManifest(p.repository, p.digest);
    },
};
