// BootArtifacts: the network-boot set of a released image — kernel, initrd, a
// squashfs rootfs and manifest.json — under <bucket>/<image>/<digest>/, as an
// image management service keeps them in `boot-images`.
//
// The image is pulled by digest and mounted with buildah (vfs storage, chroot
// isolation, its own temp storage root), the newest /boot/vmlinuz-* and its
// /boot/initrd.img-* are copied out, and mksquashfs builds the rootfs from the
// mounted tree with /boot emptied (the kernel and initrd travel beside it) and a
// fixed creation time, so the same image gives the same bytes. With the fleet
// key, manifest.json.sig (the manifest's detached signature) goes up just before
// the manifest. The manifest is uploaded last: a manifest present means the set
// is complete.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../exec";
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { containerToolFlags, parseRef, withAuthFile, type RegistryAuth } from "../registry/client";
import { objectUrl, s3Call, type S3Credentials, type S3Location } from "./s3";
import { sha256File, sha256Hex } from "../hash";
import { withTempDir } from "../temp-dir";
import { deleteAllVersions, headObject, readObject, uploadFile } from "./upload";
import { fleetKey, signatureFileOf, signingKeyProblem, signManifest } from "../supply-chain/sigstore";

export const SQUASHFS_COMPRESSIONS = ["gzip", "xz", "zstd", "lz4"] as const;

export interface BootArtifactsInputs {
    /** The image's name, the first part of the object keys. */
    image: string;
    /** <registry>/<repository>@sha256:… */
    ref: string;
    /** Secret; for registries that need a login. */
    registryAuth?: RegistryAuth;
    bucket: string;
    s3: S3Location;
    /** Secret. */
    credentials: S3Credentials;
    /** squashfs compression. Default zstd (fast on small machines; Debian and RHEL kernels read it). */
    compression?: (typeof SQUASHFS_COMPRESSIONS)[number];
    /** Secret: the fleet's private key (PEM). With it, the manifest is signed (manifest.json.sig). */
    signingKey?: string;
    /** Its public half (PEM), required with signingKey. */
    publicKey?: string;
}

export interface BootArtifact {
    name: "kernel" | "initrd" | "rootfs" | "manifest.json" | "manifest.json.sig";
    key: string;
    url: string;
    size: number;
    sha256: string;
}

export interface BootManifest {
    schemaVersion: 1;
    image: string;
    ref: string;
    digest: string;
    kernelVersion: string;
    artifacts: Array<{ name: string; size: number; sha256: string; source: string }>;
    rootfs: { format: "squashfs"; compression: string; excludes: string[] };
    createdBy: string;
}

export interface BootArtifactsOutputs extends BootArtifactsInputs {
    digest: string;
    /** <image>/<digest>/ */
    prefix: string;
    kernelVersion: string;
    kernel: BootArtifact;
    initrd: BootArtifact;
    rootfs: BootArtifact;
    manifest: BootArtifact;
    /** manifest.json.sig: ECDSA P-256 / SHA-256 over manifest.json, DER; null without a signing key. */
    manifestSignature: (BootArtifact & { keyFingerprint: string }) | null;
}

const CREATED_BY = "image-factory BootArtifacts";
const IMAGE_NAME = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/;

/** The newest kernel version among /boot/vmlinuz-<version> files that have an initrd.img-<version>. */
export function pickKernel(bootFiles: string[]): string | undefined {
    const versions = bootFiles
        .map((f) => /^vmlinuz-(.+)$/.exec(f)?.[1])
        .filter((v): v is string => !!v && bootFiles.includes(`initrd.img-${v}`));
    return versions.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
}

/** Object keys of a set: <image>/<digest>/<name>. */
export function bootArtifactPrefix(image: string, digest: string): string {
    return `${image}/${digest}/`;
}

type Buildah = (args: string[], opts?: { timeoutMs?: number }) => Promise<{ stdout: string }>;

/** Pulls `ref`, mounts it, and runs `fn` on the mounted tree; storage is a temp root removed afterwards. */
async function withMountedImage<T>(i: BootArtifactsInputs, work: string, fn: (root: string) => Promise<T>): Promise<T> {
    const reg = parseRef(i.ref).registry;
    const storage = path.join(work, "storage");
    const buildah: Buildah = (args, opts) =>
        run("buildah", ["--root", path.join(storage, "root"), "--runroot", path.join(storage, "run"), "--storage-driver", "vfs", ...args], {
            timeoutMs: opts?.timeoutMs ?? 30 * 60_000,
            secrets: i.registryAuth ? [i.registryAuth.password] : [],
        });
    let container: string | undefined;
    try {
        container = await withAuthFile(reg, i.registryAuth, async (authFile) =>
            (await buildah(["from", "--quiet", "--pull=always", "--isolation", "chroot", ...containerToolFlags(reg, authFile), `docker://${i.ref}`])).stdout.trim(),
        );
        const root = (await buildah(["mount", container])).stdout.trim();
        return await fn(root);
    } finally {
        if (container) await buildah(["rm", container]).catch(() => undefined);
        await buildah(["rmi", "--all", "--force"]).catch(() => undefined); // the temp storage root goes with `work`
    }
}

async function build(i: BootArtifactsInputs): Promise<BootArtifactsOutputs> {
    const digest = parseRef(i.ref).digest!;
    const prefix = bootArtifactPrefix(i.image, digest);
    const c = { ...i.s3, ...i.credentials };
    const compression = i.compression ?? "zstd";
    const excludes = ["boot/*"];
    // A rootfs is hundreds of MiB: IMAGE_FACTORY_SCRATCH moves the scratch space off a small /tmp.
    return withTempDir("if-boot-", async (work) => {
        const out = path.join(work, "out");
        await fs.mkdir(out);
        const kernelVersion = await withMountedImage(i, work, async (root) => {
            const boot = await fs.readdir(path.join(root, "boot")).catch(() => [] as string[]);
            const version = pickKernel(boot);
            if (!version) throw new Error(`image ${i.ref} has no kernel with an initrd in /boot (vmlinuz-<version> and initrd.img-<version>); found: ${boot.join(", ") || "nothing"}`);
            await fs.copyFile(path.join(root, "boot", `vmlinuz-${version}`), path.join(out, "kernel"));
            await fs.copyFile(path.join(root, "boot", `initrd.img-${version}`), path.join(out, "initrd"));
            await run(
                "mksquashfs",
                [root, path.join(out, "rootfs"), "-noappend", "-no-progress", "-quiet", "-comp", compression, "-mkfs-time", "0", "-wildcards", "-e", ...excludes],
                { timeoutMs: 60 * 60_000 },
            );
            return version;
        });
        const sources: Record<string, string> = { kernel: `/boot/vmlinuz-${kernelVersion}`, initrd: `/boot/initrd.img-${kernelVersion}`, rootfs: "/ (squashfs)" };
        const artifacts: BootArtifact[] = [];
        for (const name of ["kernel", "initrd", "rootfs"] as const) {
            const file = path.join(out, name);
            const r = await uploadFile(c, { bucket: i.bucket, key: `${prefix}${name}`, file, metadata: { image: i.image, digest } });
            artifacts.push({ name, key: r.key, url: objectUrl(i.s3, i.bucket, r.key), size: r.size, sha256: r.sha256 });
        }
        const manifest: BootManifest = {
            schemaVersion: 1,
            image: i.image,
            ref: i.ref,
            digest,
            kernelVersion,
            artifacts: artifacts.map((a) => ({ name: a.name, size: a.size, sha256: a.sha256, source: sources[a.name] })),
            rootfs: { format: "squashfs", compression, excludes },
            createdBy: CREATED_BY,
        };
        const manifestFile = path.join(out, "manifest.json");
        const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
        await fs.writeFile(manifestFile, manifestBytes);
        const manifestSignature = await putManifestSignature(i, prefix, manifestBytes, out);
        const m = await uploadFile(c, { bucket: i.bucket, key: `${prefix}manifest.json`, file: manifestFile, contentType: "application/json", metadata: { image: i.image, digest } });
        const [kernel, initrd, rootfs] = artifacts;
        return {
            ...i,
            compression,
            digest,
            prefix,
            kernelVersion,
            kernel,
            initrd,
            rootfs,
            manifest: { name: "manifest.json", key: m.key, url: objectUrl(i.s3, i.bucket, m.key), size: m.size, sha256: await sha256File(manifestFile) },
            manifestSignature,
        };
    }, process.env.IMAGE_FACTORY_SCRATCH ?? os.tmpdir());
}

/** Signs the manifest with the fleet key and uploads manifest.json.sig beside it; null (nothing written) without a key. */
async function putManifestSignature(i: BootArtifactsInputs, prefix: string, manifest: Buffer, dir: string): Promise<BootArtifactsOutputs["manifestSignature"]> {
    if (i.signingKey === undefined) return null;
    const { signature, keyFingerprint } = signManifest(i.signingKey, i.publicKey ?? "", manifest);
    const file = path.join(dir, signatureFileOf("manifest.json"));
    await fs.writeFile(file, signature);
    const c = { ...i.s3, ...i.credentials };
    const r = await uploadFile(c, { bucket: i.bucket, key: `${prefix}${signatureFileOf("manifest.json")}`, file, contentType: "application/octet-stream", metadata: { image: i.image, digest: parseRef(i.ref).digest! } });
    return { name: "manifest.json.sig", key: r.key, url: objectUrl(i.s3, i.bucket, r.key), size: r.size, sha256: r.sha256, keyFingerprint };
}

/**
 * The fleet key changed (or came, or went) on a set that stays: the manifest in
 * the bucket, checked to be the one this resource wrote, is signed again with the
 * new key, or its signature is removed. Nothing else is rebuilt.
 */
async function resign(olds: BootArtifactsOutputs, news: BootArtifactsInputs): Promise<BootArtifactsOutputs["manifestSignature"]> {
    const c = { ...news.s3, ...news.credentials };
    if (news.signingKey === undefined) {
        if (olds.manifestSignature) await deleteAllVersions(c, olds.bucket, olds.manifestSignature.key);
        return null;
    }
    fleetKey(news.signingKey, news.publicKey ?? ""); // a bad key fails before anything is read or written
    const where = `s3://${olds.bucket}/${olds.manifest.key}`;
    const manifest = await s3Call(c, `reading ${where}`, () => readObject(c, olds.bucket, olds.manifest.key));
    if (sha256Hex(manifest) !== olds.manifest.sha256) {
        throw new Error(`${where} is not the manifest this set wrote (sha256 ${sha256Hex(manifest)}, expected ${olds.manifest.sha256}); refresh, and the next up makes the set again`);
    }
    return withTempDir("if-boot-sig-", (dir) => putManifestSignature({ ...olds, ...news }, olds.prefix, manifest, dir));
}

const keyDiff = diffOn(["image", "ref", "bucket", "s3", "compression"], ["credentials", "registryAuth", "publicKey", "signingKey"]);

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (!isUnknown(news.image) && !(typeof news.image === "string" && IMAGE_NAME.test(news.image))) {
            failures.push({ property: "image", reason: `image must be an image name (a-z, 0-9, ".", "_", "-"), got ${JSON.stringify(news.image)}` });
        }
        if (!isUnknown(news.ref)) {
            try {
                if (!parseRef(String(news.ref)).digest) throw new Error(`must be pinned by digest (<registry>/<repository>@sha256:…), got ${JSON.stringify(news.ref)}`);
            } catch (e) {
                failures.push({ property: "ref", reason: `ref ${(e as Error).message}` });
            }
        }
        if (!isUnknown(news.compression) && news.compression !== undefined && !SQUASHFS_COMPRESSIONS.includes(news.compression)) {
            failures.push({ property: "compression", reason: `compression must be one of ${SQUASHFS_COMPRESSIONS.join(", ")}, got ${JSON.stringify(news.compression)}` });
        }
        if (!isUnknown(news.signingKey) && news.signingKey !== undefined) {
            if (news.publicKey === undefined) failures.push({ property: "publicKey", reason: "publicKey is required with signingKey: the public half the manifest's signature is checked against" });
            const why = signingKeyProblem(String(news.signingKey), isUnknown(news.publicKey) ? undefined : news.publicKey);
            if (why) failures.push({ property: "signingKey", reason: why });
        }
        // The default goes into the inputs, so that the stored outputs (which carry it) compare equal next time.
        return { inputs: { ...news, compression: news.compression ?? "zstd" }, failures };
    },
    // A new digest is a new set under a new prefix; the old one is deleted after. A new key signs the manifest again.
    async diff(id, olds, news) {
        const d = await keyDiff(id, olds, news);
        // A replacement under the same keys (a new compression; the same digest from another registry)
        // deletes the old set first: made first, the new objects would overwrite the old ones, and
        // the old set's delete would then remove them.
        const keys = (p: Record<string, any>) => (isUnknown(p.ref) || isUnknown(p.s3) ? undefined : JSON.stringify([p.image, parseRef(p.ref).digest, p.bucket, p.s3]));
        const sameKeys = keys(news) !== undefined && keys(news) === keys(olds);
        return { ...d, deleteBeforeReplace: (d.replaces?.length ?? 0) > 0 && sameKeys };
    },
    async create(inputs) {
        const outs = await build(inputs as BootArtifactsInputs);
        return { id: `s3://${outs.bucket}/${outs.prefix}`, outs };
    },
    async update(_id, olds, news) {
        // Credentials or the key changed: the objects stay as they are; a key change signs the manifest again.
        const o = olds as BootArtifactsOutputs;
        const n = news as BootArtifactsInputs;
        const keyChanged = o.publicKey !== n.publicKey || o.signingKey !== n.signingKey;
        const manifestSignature = keyChanged ? await resign(o, n) : (o.manifestSignature ?? null);
        return { outs: { ...o, credentials: n.credentials, registryAuth: n.registryAuth, signingKey: n.signingKey, publicKey: n.publicKey, manifestSignature } };
    },
    async read(id, props) {
        const p = props as BootArtifactsOutputs;
        const c = { ...p.s3, ...p.credentials };
        const head = await s3Call(c, `reading ${id}manifest.json`, () => headObject(c, p.bucket, p.manifest.key));
        if (!head) return { id: "", props: {} };
        return { id, props: { ...p, manifest: { ...p.manifest, size: head.size, sha256: head.sha256 ?? "" } } };
    },
    async delete(_id, props) {
        const p = props as BootArtifactsOutputs;
        const c = { ...p.s3, ...p.credentials };
        // The manifest first: a set without one reads as incomplete, never as complete.
        for (const a of [p.manifest, p.manifestSignature, p.kernel, p.initrd, p.rootfs]) if (a) await deleteAllVersions(c, p.bucket, a.key);
    },
};
