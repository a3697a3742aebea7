// Builds a pre-staged disk: resolves every image in the registry, plans the
// layout (a clear error before anything is written when it does not fit),
// archives each image with skopeo, makes the filesystem from a staging folder
// without mounting anything (mkfs.xfs -p protofile or mke2fs -d), slides it to
// the partition's offset, writes the GPT, verifies with sgdisk, and renames the
// finished disk into place. Everything happens in a temp folder next to the
// artifact, removed on success and on failure.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import * as path from "node:path";
import { run } from "../exec";
import { sha256File, sha256Hex } from "../hash";
import { fleetKey, signatureFileOf, signManifest } from "../supply-chain/sigstore";
import { fetchArchives, resolveImages, tagOf, type Credentials, type ManifestEntry } from "./archives";
import { makeFilesystem } from "./filesystem";
import { renderGpt } from "./gpt";
import { planLayout, type DiskFormat, type Filesystem, type Layout } from "./layout";
import type { StagedFile } from "./protofile";
import {
    IGNITION_FILE,
    LOAD_LIST,
    LOAD_SCRIPT,
    MANIFEST_FILE,
    MANIFEST_SIGNATURE_FILE,
    renderIgnition,
    renderLoadList,
    renderLoadScript,
    renderSystemdUnits,
    SYSTEMD_DIR,
    type LoadEntry,
} from "./tooling";

export interface ExtraFile {
    /** Path on the partition, relative to its root. */
    path: string;
    /** Inline content, or */
    content?: string;
    /** an absolute path on the deploying machine to copy. */
    source?: string;
}

export interface DiskSpec {
    /** Absolute path of the artifact. */
    path: string;
    sizeBytes: number;
    format: DiskFormat;
    /** GPT partition label and filesystem label. */
    label: string;
    filesystem: Filesystem;
    headroomPercent: number;
    /** Where the node mounts the partition (used by the units). */
    mountPoint: string;
    /** Folder on the partition → image references (by digest, or by tag to resolve). */
    contentSets: Record<string, string[]>;
    extraFiles: ExtraFile[];
    credentials?: Credentials;
    /** Pulumi secret: the fleet's private key (PEM). With it, manifest.json is signed. */
    signingKey?: string;
    /** Its public half (PEM), which the signature is checked against. */
    publicKey?: string;
}

/** The disk's signed manifest: manifest.json and manifest.json.sig at the partition's root, and these copies beside the disk file. */
export interface DiskManifestSignature {
    /** <disk>.manifest.json: the partition's manifest.json, byte for byte. */
    manifestPath: string;
    /** <disk>.manifest.json.sig: ECDSA P-256 / SHA-256 over it, DER (as manifest.json.sig on the partition). */
    path: string;
    /** hex sha256 of the signed manifest. */
    manifestSha256: string;
    /** The fleet key's fingerprint (sha256 of its DER). */
    keyFingerprint: string;
}

/** Where the signed manifest and its signature go beside the disk file. */
export const besideDisk = (disk: string) => ({ manifestPath: `${disk}.${MANIFEST_FILE}`, path: signatureFileOf(`${disk}.${MANIFEST_FILE}`) });

export interface PartitionFile {
    path: string;
    sha256: string;
    size: number;
}

export interface BuiltDisk {
    path: string;
    format: DiskFormat;
    /** sha256 of the artifact file (hex). */
    sha256: string;
    /** Logical size of the artifact file. */
    size: number;
    /** Bytes the artifact really occupies (it is sparse). */
    allocatedSize: number;
    /** Bytes of files on the partition. */
    contentBytes: number;
    partition: { number: 1; start: number; end: number; label: string; filesystem: Filesystem; offsetBytes: number; sizeBytes: number };
    manifest: ManifestEntry[];
    files: PartitionFile[];
    /** Ignition config fragment (JSON) that installs the load units. */
    ignition: string;
    /** With a signing key; null without one. */
    manifestSignature: DiskManifestSignature | null;
}

export interface BuildOptions {
    log?: (line: string) => void;
    /** Called with each phase's duration (bench). */
    onPhase?: (phase: "resolve" | "fetch" | "filesystem" | "assemble" | "finish", ms: number) => void;
}

/** The tooling files at the partition's root (besides the list and manifest). */
function toolingFiles(spec: DiskSpec): Array<{ path: string; content: string; mode: number }> {
    const unitOpts = { label: spec.label, filesystem: spec.filesystem, mountPoint: spec.mountPoint };
    return [
        { path: LOAD_SCRIPT, content: renderLoadScript(), mode: 0o755 },
        ...renderSystemdUnits(unitOpts).map((u) => ({ path: `${SYSTEMD_DIR}/${u.name}`, content: u.contents, mode: 0o644 })),
        { path: IGNITION_FILE, content: renderIgnition(unitOpts), mode: 0o644 },
    ];
}

/** Removes what an interrupted build of `artifact` left next to it. */
export async function sweepStaleTemps(artifact: string): Promise<void> {
    const dir = path.dirname(artifact);
    const prefix = `.${path.basename(artifact)}.`;
    for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
        if (entry.startsWith(prefix) && entry.endsWith(".tmp")) await fs.rm(path.join(dir, entry), { recursive: true, force: true });
    }
}

async function timed<T>(phase: Parameters<NonNullable<BuildOptions["onPhase"]>>[0], opts: BuildOptions, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await fn();
    opts.onPhase?.(phase, Date.now() - started);
    return result;
}

/** Builds the disk described by `spec` at `spec.path` (atomically). */
export async function buildDisk(spec: DiskSpec, opts: BuildOptions = {}): Promise<BuiltDisk> {
    const log = opts.log ?? (() => undefined);
    const tooling = toolingFiles(spec);
    // A key that cannot sign fails here, before anything is fetched or written.
    if (spec.signingKey !== undefined) fleetKey(spec.signingKey, spec.publicKey ?? "");

    // 1. Everything that can fail without writing: registries, images, layout.
    const images = await timed("resolve", opts, () => resolveImages(spec.contentSets, spec.credentials));
    const extraSizes = await Promise.all(spec.extraFiles.map(async (f) => (f.source !== undefined ? (await fs.stat(f.source)).size : Buffer.byteLength(f.content ?? ""))));
    const estimate = planLayout({
        diskBytes: spec.sizeBytes,
        // The list and manifest are small; 64 KiB stands in for them (and for the signature).
        fileSizes: [...images.map((i) => i.estimatedBytes + 64 * 1024), ...extraSizes, ...tooling.map((t) => t.content.length), 65536, 65536, ...(spec.signingKey ? [65536] : [])],
        filesystem: spec.filesystem,
        headroomPercent: spec.headroomPercent,
    });
    log(`${images.length} images, about ${estimate.contentBytes} bytes; partition ${estimate.partition.startSector}-${estimate.partition.endSector}`);

    await fs.mkdir(path.dirname(spec.path), { recursive: true });
    await sweepStaleTemps(spec.path);
    const folder = path.dirname(spec.path);
    // At the peak the staged archives and the filesystem image (content plus its
    // metadata) sit in the folder together: refuse before writing anything when
    // they cannot fit, rather than fill the disk and fail halfway.
    const needed = 2 * (estimate.contentBytes + Math.ceil(estimate.contentBytes / 100)) + 32 * 1024 * 1024;
    const st = await fs.statfs(folder);
    const free = st.bavail * st.bsize;
    if (free < needed) throw new Error(noSpace(folder, needed, free));
    const work = path.join(path.dirname(spec.path), `.${path.basename(spec.path)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
    const stage = path.join(work, "stage");
    try {
        await fs.mkdir(stage, { recursive: true });

        // 2. Archives, checked against the registry's digest.
        const manifest = await timed("fetch", opts, () => fetchArchives(images, stage, spec.credentials, log));

        // 3. Extra files, tooling, list, manifest into the staging folder.
        const staged: StagedFile[] = manifest.map((m) => ({ path: m.archive, source: path.join(stage, m.archive), mode: 0o644, size: m.archiveSize }));
        const files: PartitionFile[] = [];
        const put = async (rel: string, data: string | Buffer | { source: string }, mode: number) => {
            const dest = path.join(stage, rel);
            await fs.mkdir(path.dirname(dest), { recursive: true });
            if (Buffer.isBuffer(data) || typeof data === "string") await fs.writeFile(dest, data, { mode });
            else await fs.copyFile(data.source, dest);
            await fs.chmod(dest, mode);
            const size = (await fs.stat(dest)).size;
            files.push({ path: rel, sha256: await sha256File(dest), size });
            staged.push({ path: rel, source: dest, mode, size });
        };
        for (const f of spec.extraFiles) await put(f.path, f.source !== undefined ? { source: f.source } : (f.content ?? ""), 0o644);
        for (const t of tooling) await put(t.path, t.content, t.mode);
        const entries: LoadEntry[] = manifest.map((m) => ({ archive: m.archive, ref: m.ref, tagged: tagOf(m) }));
        await put(LOAD_LIST, renderLoadList(entries), 0o644);
        const manifestDoc = { schemaVersion: 1, label: spec.label, filesystem: spec.filesystem, images: manifest, files: [...files] };
        const manifestBytes = Buffer.from(`${JSON.stringify(manifestDoc, null, 2)}\n`);
        await put(MANIFEST_FILE, manifestBytes, 0o644);
        const signed = spec.signingKey !== undefined ? signManifest(spec.signingKey, spec.publicKey ?? "", manifestBytes) : undefined;
        if (signed) await put(MANIFEST_SIGNATURE_FILE, signed.signature, 0o644);

        // 4. The exact layout, then the filesystem image.
        const layout = planLayout({
            diskBytes: spec.sizeBytes,
            fileSizes: staged.map((s) => s.size),
            filesystem: spec.filesystem,
            headroomPercent: spec.headroomPercent,
        });
        const raw = path.join(work, "disk.raw");
        await timed("filesystem", opts, () => makeFilesystem(spec, layout, staged, stage, work, raw));
        await fs.rm(stage, { recursive: true, force: true });

        // 5. The disk: filesystem at the partition offset, GPT around it.
        const { artifact, sha256: known } = await timed("assemble", opts, () => assembleDisk(spec, layout, raw, work));

        // 6. Durable, hashed, renamed into place.
        return await timed("finish", opts, async () => {
            const { sha256, size, allocatedSize } = await finishArtifact(artifact, spec.path, known);
            log(`${spec.path}: ${size} bytes, ${allocatedSize} allocated, sha256 ${sha256}`);
            // The signed manifest beside the disk file too (what a reviewer checks without mounting it);
            // a disk built without a key leaves none from an earlier build.
            const beside = besideDisk(spec.path);
            if (signed) {
                await writeBeside(work, beside.manifestPath, manifestBytes);
                await writeBeside(work, beside.path, signed.signature);
                log(`signed its manifest with key ${signed.keyFingerprint.slice(0, 19)}: ${beside.path}`);
            } else await removeBeside(spec.path);
            return {
                path: spec.path,
                format: spec.format,
                sha256,
                size,
                allocatedSize,
                contentBytes: staged.reduce((s, f) => s + f.size, 0),
                partition: {
                    number: 1 as const,
                    start: layout.partition.startSector,
                    end: layout.partition.endSector,
                    label: spec.label,
                    filesystem: spec.filesystem,
                    offsetBytes: layout.partition.offsetBytes,
                    sizeBytes: layout.partition.sizeBytes,
                },
                manifest,
                files,
                ignition: tooling.find((t) => t.path === IGNITION_FILE)!.content,
                manifestSignature: signed ? { ...beside, manifestSha256: sha256Hex(manifestBytes), keyFingerprint: signed.keyFingerprint } : null,
            };
        });
    } catch (e) {
        // The estimate was short after all: say so the same way (the work folder goes below).
        if ((e as NodeJS.ErrnoException).code === "ENOSPC" || /No space left on device/.test((e as Error).message)) {
            const st = await fs.statfs(folder).catch(() => undefined);
            throw new Error(noSpace(folder, needed, st ? st.bavail * st.bsize : 0));
        }
        throw e;
    } finally {
        await fs.rm(work, { recursive: true, force: true });
    }
}

/** Writes `dest` through a temp file in `work` (same folder as the disk), then renames it into place. */
async function writeBeside(work: string, dest: string, data: Buffer): Promise<void> {
    const tmp = path.join(work, path.basename(dest));
    await fs.writeFile(tmp, data, { mode: 0o644 });
    await fs.rename(tmp, dest);
}

/** Removes the signed manifest copies beside a disk file. */
export async function removeBeside(disk: string): Promise<void> {
    const beside = besideDisk(disk);
    await Promise.all([fs.rm(beside.manifestPath, { force: true }), fs.rm(beside.path, { force: true })]);
}

const MiB = (n: number) => `${Math.ceil(n / (1024 * 1024))} MiB`;
const noSpace = (folder: string, needed: number, free: number) =>
    `not enough space in ${folder}: writing the disk needs about ${MiB(needed)} free (staged archives and the filesystem image), ${MiB(free)} are free; nothing was written`;

/** Makes `artifact` durable, hashes it (unless its sha256 is known) and renames it to `dest`. */
export async function finishArtifact(artifact: string, dest: string, knownSha256?: string): Promise<{ sha256: string; size: number; allocatedSize: number }> {
    const handle = await fs.open(artifact, "r+");
    await handle.datasync();
    await handle.close();
    const sha256 = knownSha256 ?? (await sha256File(artifact));
    const st = await fs.stat(artifact);
    await fs.rename(artifact, dest);
    const dirHandle = await fs.open(path.dirname(dest), "r");
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
    return { sha256, size: st.size, allocatedSize: st.blocks * 512 };
}

/**
 * The sha256 of the disk that assembleDisk will make, from its pieces: GPT
 * head, zeros, the filesystem image, zeros, GPT tail. Computed while the image
 * is still in the page cache (inserting a range drops it); the tests check it
 * against the finished file.
 */
async function sha256OfDisk(layout: Layout, gpt: { head: Buffer; tail: Buffer }, fsImage: string): Promise<string> {
    const h = createHash("sha256");
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    const zeroFill = (n: number) => {
        for (let left = n; left > 0; left -= zeros.length) h.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
    };
    h.update(gpt.head);
    zeroFill(layout.partition.offsetBytes - gpt.head.length);
    let fsBytes = 0;
    for await (const chunk of createReadStream(fsImage, { highWaterMark: 4 * 1024 * 1024 })) {
        h.update(chunk as Buffer);
        fsBytes += (chunk as Buffer).length;
    }
    zeroFill(layout.diskBytes - gpt.tail.length - layout.partition.offsetBytes - fsBytes);
    h.update(gpt.tail);
    return h.digest("hex");
}

/** Turns the filesystem image into the disk artifact (in `work`); returns it with its sha256 when already known. */
export async function assembleDisk(spec: { label: string; format: DiskFormat; typeGuid?: string }, layout: Layout, fsImage: string, work: string): Promise<{ artifact: string; sha256?: string }> {
    const disk = fsImage;
    const offset = layout.partition.offsetBytes;
    const { startSector, endSector } = layout.partition;
    const gpt = renderGpt({ totalSectors: layout.totalSectors, startSector, endSector, label: spec.label, diskGuid: randomUUID(), partitionGuid: randomUUID(), typeGuid: spec.typeGuid });
    const sha256 = spec.format === "raw" ? await sha256OfDisk(layout, gpt, fsImage) : undefined;
    try {
        // Shifts the filesystem's blocks to the partition offset without copying them.
        await run("fallocate", ["--insert-range", "--offset", "0", "--length", String(offset), disk]);
    } catch {
        // No FALLOC_FL_INSERT_RANGE here (tmpfs, NFS, …): a sparse copy.
        const copy = path.join(work, "disk.copy");
        await fs.writeFile(copy, "");
        await fs.truncate(copy, layout.diskBytes);
        await run("dd", [`if=${fsImage}`, `of=${copy}`, "bs=4M", `seek=${offset}`, "oflag=seek_bytes", "conv=sparse,notrunc", "status=none"]);
        await fs.rename(copy, disk);
    }
    await fs.truncate(disk, layout.diskBytes);
    const handle = await fs.open(disk, "r+");
    try {
        await handle.write(gpt.head, 0, gpt.head.length, 0);
        await handle.write(gpt.tail, 0, gpt.tail.length, layout.diskBytes - gpt.tail.length);
    } finally {
        await handle.close();
    }
    const table = await readPartitionTable(disk);
    if (table.start !== startSector || table.end !== endSector || table.name !== spec.label || !table.valid) {
        throw new Error(`${disk}: the written partition table does not match the plan: ${JSON.stringify(table)}`);
    }
    if (spec.format === "raw") return { artifact: disk, sha256 };
    const qcow2 = path.join(work, "disk.qcow2");
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", disk, qcow2]);
    await run("qemu-img", ["check", "-f", "qcow2", qcow2]);
    await fs.rm(disk);
    return { artifact: qcow2 };
}

export interface PartitionTable {
    start: number;
    end: number;
    name: string;
    /** sgdisk -v found no problems. */
    valid: boolean;
    lastUsable: number;
    partitions: number;
}

/** Partition 1 as sgdisk reads it from a raw disk file. */
export async function readPartitionTable(disk: string): Promise<PartitionTable> {
    const info = (await run("sgdisk", ["-i", "1", disk])).stdout;
    const print = (await run("sgdisk", ["-p", disk])).stdout;
    const verify = (await run("sgdisk", ["-v", disk], { okCodes: [0, 1, 2, 3, 4] })).stdout;
    const num = (re: RegExp, text: string) => Number(re.exec(text)?.[1] ?? NaN);
    return {
        start: num(/First sector: (\d+)/, info),
        end: num(/Last sector: (\d+)/, info),
        name: /Partition name: '([^']*)'/.exec(info)?.[1] ?? "",
        valid: /No problems found/.test(verify),
        lastUsable: num(/last usable sector is (\d+)/, print),
        partitions: print.split(/^Number\s+Start/m)[1]?.trim().split("\n").filter((l) => /^\s*\d+\s/.test(l)).length ?? 0,
    };
}

/** What `read` sees: the artifact's checksum and sizes, or undefined when it is gone. */
export async function statArtifact(file: string): Promise<{ sha256: string; size: number; allocatedSize: number } | undefined> {
    try {
        const st = await fs.stat(file);
        return { sha256: await sha256File(file), size: st.size, allocatedSize: st.blocks * 512 };
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw e;
    }
}
