// VmDisk: a released image as a VM disk, rootless and without mounting a
// filesystem: the image (by digest) is mounted with buildah (vfs storage,
// chroot isolation), its root filesystem becomes an ext4 image with mke2fs -d,
// which the pre-staged disks' code places in a GPT partition filling the disk
// (type "Linux root (x86-64)") and converts to qcow2 (default) or keeps raw.
// The kernel and initrd of its /boot go beside the disk with a manifest that
// holds every file's sha256: direct kernel boot (-kernel/-initrd/-append), as
// the boot test and KubeVirt's kernelBoot do. Keyed by the image digest: the
// same digest is the same disk, a new digest a new disk.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { run } from "../exec";
import { sha256File } from "../hash";
import { assembleDisk, finishArtifact, sweepStaleTemps } from "../prestage/build";
import { makeFilesystem } from "../prestage/filesystem";
import { FORMATS, formatSize, MiB, parseSize, planLayout, type DiskFormat } from "../prestage/layout";
import { isDigest, parseRef, type RegistryAuth } from "../registry/client";
import { pickKernel } from "../storage/boot-artifacts.provider";
import { withImageRoot } from "./buildah";

/** GPT type "Linux root (x86-64)" (Discoverable Partitions Specification). */
export const ROOT_X86_64_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
export const ROOT_LABEL = "root";
/** The kernel command line that boots the disk (the boot test adds its own words). */
export const KERNEL_ARGS = "root=/dev/vda1 rootfstype=ext4 rw console=ttyS0";
export const DEFAULT_DISK_SIZE = "2GiB";

export interface VmDiskInputs {
    /** Catalog image name: the first part of the file names. */
    image: string;
    /** The image, host/repo@sha256:… */
    ref: string;
    /** Folder the disk, kernel, initrd and manifest go to. */
    dir: string;
    format: DiskFormat;
    /** Virtual disk size, e.g. "2GiB"; the root filesystem fills it. */
    size: string;
    /** buildah storage (machine-local, never a reason to remake the disk). */
    storage: string;
    auth?: RegistryAuth;
}

export interface VmFile {
    path: string;
    sha256: string;
    size: number;
}

export interface VmDiskManifest {
    schemaVersion: 1;
    image: string;
    ref: string;
    digest: string;
    format: DiskFormat;
    kernelVersion: string;
    kernelArgs: string;
    disk: { file: string; sha256: string; size: number; virtualSize: number };
    kernel: { file: string; sha256: string; size: number; source: string };
    initrd: { file: string; sha256: string; size: number; source: string };
    partition: { number: 1; label: string; type: string; filesystem: "ext4"; offsetBytes: number; sizeBytes: number };
    rootContentBytes: number;
    createdBy: string;
}

export interface VmDiskOutputs extends VmDiskInputs {
    digest: string;
    /** The disk file. */
    path: string;
    sha256: string;
    /** File size (qcow2: the file; raw: the virtual size). */
    fileSize: number;
    virtualSize: number;
    allocatedSize: number;
    kernelVersion: string;
    kernelArgs: string;
    kernel: VmFile;
    initrd: VmFile;
    manifest: VmFile;
    /** Where the boot test writes the serial console: beside the disk, deleted with it. */
    serialLog: string;
}

const CREATED_BY = "image-factory VmDisk";
const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** Inputs whose change is a different disk. */
const REPLACE_KEYS = ["image", "ref", "dir", "format", "size"];

/** File names of an image's disk set: <image>-<first 12 hex of the digest>.<ext>. */
export function vmDiskFiles(dir: string, image: string, digest: string, format: DiskFormat) {
    const base = path.join(dir, `${image}-${digest.replace(/^sha256:/, "").slice(0, 12)}`);
    return { disk: `${base}.${format}`, kernel: `${base}.vmlinuz`, initrd: `${base}.initrd`, manifest: `${base}.json`, serialLog: `${base}.boot.log` };
}

/** Bytes and inodes of a tree, as du counts them (apparent sizes). */
async function treeUsage(root: string): Promise<{ bytes: number; inodes: number }> {
    const bytes = Number((await run("du", ["-s", "-x", "--apparent-size", "--block-size=1", root])).stdout.split(/\s/)[0]);
    const inodes = Number((await run("du", ["-s", "-x", "--inodes", root])).stdout.split(/\s/)[0]);
    return { bytes, inodes };
}

export async function makeVmDisk(i: VmDiskInputs, log: (l: string) => void = () => undefined): Promise<VmDiskOutputs> {
    const digest = parseRef(i.ref).digest!;
    const files = vmDiskFiles(i.dir, i.image, digest, i.format);
    const diskBytes = parseSize(i.size);
    await fs.mkdir(i.dir, { recursive: true });
    for (const f of Object.values(files)) await sweepStaleTemps(f);
    const work = path.join(i.dir, `.${path.basename(files.disk)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
    const started = Date.now();
    try {
        await fs.mkdir(work);
        const made = await withImageRoot(i.storage, i.ref, i.auth, `vmdisk-${i.image}`, log, async (root) => {
            const boot = await fs.readdir(path.join(root, "boot")).catch(() => [] as string[]);
            const kernelVersion = pickKernel(boot);
            if (!kernelVersion) {
                throw new Error(
                    `${i.image}: image ${i.ref} has no kernel with an initrd in /boot (vmlinuz-<version> and initrd.img-<version>), so it cannot boot; give it (or an ancestor) a catalog \`boot.kernel\`, or set \`boot.test: false\`. /boot holds: ${boot.join(", ") || "nothing"}`,
                );
            }
            await fs.copyFile(path.join(root, "boot", `vmlinuz-${kernelVersion}`), path.join(work, "kernel"));
            await fs.copyFile(path.join(root, "boot", `initrd.img-${kernelVersion}`), path.join(work, "initrd"));
            const usage = await treeUsage(root);
            // Each inode stands in for one block, so many small files are counted fairly.
            const layout = planLayout({ diskBytes, fileSizes: [usage.bytes, usage.inodes * 4096], filesystem: "ext4", headroomPercent: 10, placement: "fill" });
            log(`root filesystem ${formatSize(usage.bytes)} in ${usage.inodes} inodes → ext4 of ${formatSize(layout.filesystem.sizeBytes)} on a ${formatSize(diskBytes)} ${i.format} disk`);
            const fsImage = path.join(work, "disk.raw");
            await makeFilesystem({ filesystem: "ext4", label: ROOT_LABEL, bytesPerInode: 16384 }, layout, [], root, work, fsImage);
            return { kernelVersion, layout, contentBytes: usage.bytes };
        });
        const { artifact, sha256: known } = await assembleDisk({ label: ROOT_LABEL, format: i.format, typeGuid: ROOT_X86_64_TYPE }, made.layout, path.join(work, "disk.raw"), work);
        const info = JSON.parse((await run("qemu-img", ["info", "--output=json", "-f", i.format, artifact])).stdout) as { "virtual-size": number };
        const kernel = { path: files.kernel, sha256: await sha256File(path.join(work, "kernel")), size: (await fs.stat(path.join(work, "kernel"))).size };
        const initrd = { path: files.initrd, sha256: await sha256File(path.join(work, "initrd")), size: (await fs.stat(path.join(work, "initrd"))).size };
        await fs.rename(path.join(work, "kernel"), files.kernel);
        await fs.rename(path.join(work, "initrd"), files.initrd);
        const disk = await finishArtifact(artifact, files.disk, known);
        const manifest: VmDiskManifest = {
            schemaVersion: 1,
            image: i.image,
            ref: i.ref,
            digest,
            format: i.format,
            kernelVersion: made.kernelVersion,
            kernelArgs: KERNEL_ARGS,
            disk: { file: path.basename(files.disk), sha256: disk.sha256, size: disk.size, virtualSize: info["virtual-size"] },
            kernel: { file: path.basename(files.kernel), sha256: kernel.sha256, size: kernel.size, source: `/boot/vmlinuz-${made.kernelVersion}` },
            initrd: { file: path.basename(files.initrd), sha256: initrd.sha256, size: initrd.size, source: `/boot/initrd.img-${made.kernelVersion}` },
            partition: {
                number: 1,
                label: ROOT_LABEL,
                type: ROOT_X86_64_TYPE,
                filesystem: "ext4",
                offsetBytes: made.layout.partition.offsetBytes,
                sizeBytes: made.layout.partition.sizeBytes,
            },
            rootContentBytes: made.contentBytes,
            createdBy: CREATED_BY,
        };
        // The manifest last, through a temp name: a manifest present means the set is complete.
        const manifestTmp = path.join(work, "manifest.json");
        await fs.writeFile(manifestTmp, `${JSON.stringify(manifest, null, 2)}\n`);
        const m = await finishArtifact(manifestTmp, files.manifest);
        log(`${files.disk}: ${formatSize(disk.size)} (${formatSize(disk.allocatedSize)} allocated), kernel ${made.kernelVersion}, in ${Math.round((Date.now() - started) / 1000)}s`);
        return {
            ...i,
            digest,
            path: files.disk,
            sha256: disk.sha256,
            fileSize: disk.size,
            virtualSize: info["virtual-size"],
            allocatedSize: disk.allocatedSize,
            kernelVersion: made.kernelVersion,
            kernelArgs: KERNEL_ARGS,
            kernel,
            initrd,
            manifest: { path: files.manifest, sha256: m.sha256, size: m.size },
            serialLog: files.serialLog,
        };
    } catch (e) {
        for (const f of [files.kernel, files.initrd, files.disk, files.manifest]) await fs.rm(f, { force: true });
        throw e;
    } finally {
        await fs.rm(work, { recursive: true, force: true });
    }
}

async function exists(file: string): Promise<boolean> {
    return fs.stat(file).then(
        () => true,
        () => false,
    );
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        const inputs = { ...news, format: news.format ?? "qcow2", size: news.size ?? DEFAULT_DISK_SIZE };
        if (!isUnknown(inputs.image) && !(typeof inputs.image === "string" && IMAGE_NAME.test(inputs.image)))
            failures.push({ property: "image", reason: `image must be a catalog image name, got ${JSON.stringify(inputs.image)}` });
        if (!isUnknown(inputs.ref) && !(typeof inputs.ref === "string" && isDigest(inputs.ref.split("@")[1] ?? ""))) {
            failures.push({ property: "ref", reason: `the image must be referenced by digest (host/repo@sha256:…), got ${JSON.stringify(inputs.ref)}` });
        }
        if (!isUnknown(inputs.dir) && !(typeof inputs.dir === "string" && path.isAbsolute(inputs.dir)))
            failures.push({ property: "dir", reason: `dir must be an absolute path, got ${JSON.stringify(inputs.dir)}` });
        if (!isUnknown(inputs.format) && !FORMATS.includes(inputs.format))
            failures.push({ property: "format", reason: `format must be one of ${FORMATS.join(", ")}, got ${JSON.stringify(inputs.format)}` });
        if (!isUnknown(inputs.size)) {
            try {
                const bytes = parseSize(inputs.size);
                if (bytes % MiB !== 0 || bytes < 64 * MiB) throw new Error(`size ${JSON.stringify(inputs.size)} must be a whole number of MiB, at least 64MiB`);
            } catch (e) {
                failures.push({ property: "size", reason: (e as Error).message });
            }
        }
        return { inputs, failures };
    },
    diff: diffOn(REPLACE_KEYS, ["auth"]),
    async create(inputs) {
        const i = inputs as VmDiskInputs;
        const outs = await makeVmDisk(i, (l) => console.log(`[vm-disk ${i.image}] ${l}`));
        return { id: outs.path, outs };
    },
    async update(_id, olds, news) {
        // Only credentials or storage changed: the disk stays.
        return { outs: { ...(olds as VmDiskOutputs), auth: news.auth, storage: news.storage } };
    },
    async read(id, props) {
        const p = props as VmDiskOutputs;
        // The manifest is written last: without it (or the disk) the set is incomplete, i.e. gone.
        if (!(await exists(p.path)) || !(await exists(p.manifest.path))) return { id: "", props: {} };
        return { id, props };
    },
    async delete(_id, props) {
        const p = props as VmDiskOutputs;
        // The manifest first: a set without one reads as incomplete, never as complete.
        for (const f of [p.manifest?.path, p.path, p.kernel?.path, p.initrd?.path, p.serialLog]) if (f) await fs.rm(f, { force: true });
    },
};
