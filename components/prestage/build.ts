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
import { containerToolFlags, formatRef, parseRef, RegistryClient, RegistryError, withAuthFile, type ImageRef, type RegistryAuth } from "../registry/client";
import { FS_BLOCK, planLayout, XFS_LOG_BYTES, type DiskFormat, type Filesystem, type Layout } from "./layout";
import { renderGpt } from "./gpt";
import { renderXfsProtofile, type StagedFile } from "./protofile";
import {
    IGNITION_FILE,
    LOAD_LIST,
    LOAD_SCRIPT,
    MANIFEST_FILE,
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

export interface Credentials extends RegistryAuth {
    /** host[:port] these credentials are for; other registries are read anonymously. */
    registry: string;
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
}

export interface ManifestEntry {
    contentSet: string;
    /** registry/repository@sha256:… — the name the image is loaded under. */
    ref: string;
    /** The reference as the content set gave it. */
    source: string;
    digest: string;
    mediaType: string;
    /** Path on the partition. */
    archive: string;
    archiveSha256: string;
    archiveSize: number;
}

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
}

export interface BuildOptions {
    log?: (line: string) => void;
    /** Called with each phase's duration (bench). */
    onPhase?: (phase: "resolve" | "fetch" | "filesystem" | "assemble" | "finish", ms: number) => void;
}

export interface ResolvedImage {
    contentSet: string;
    source: string;
    image: ImageRef;
    digest: string;
    mediaType: string;
    /** Sum of the manifest, config and layer sizes: what the archive will hold. */
    estimatedBytes: number;
}

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);

export const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

export async function sha256File(file: string): Promise<string> {
    const h = createHash("sha256");
    for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
    return h.digest("hex");
}

function clientFor(registry: string, credentials?: Credentials): RegistryClient {
    return new RegistryClient(registry, { auth: credentials?.registry === registry ? credentials : undefined, timeoutMs: 60_000 });
}

/** The content set's references as ImageRefs, with a clear error naming a bad one. */
export function parseContentSets(contentSets: Record<string, string[]>): Array<{ contentSet: string; source: string; image: ImageRef }> {
    const out = [];
    for (const [contentSet, refs] of Object.entries(contentSets)) {
        for (const source of refs) {
            const image = parseRef(source);
            if (!image.digest && !image.tag) image.tag = "latest";
            out.push({ contentSet, source, image });
        }
    }
    return out;
}

/**
 * Looks every image up in its registry: its digest (a tag is resolved), its
 * media type and how many bytes its archive will hold. A registry that does
 * not answer and an image that is not there are errors naming them.
 */
export async function resolveImages(contentSets: Record<string, string[]>, credentials?: Credentials): Promise<ResolvedImage[]> {
    const items = parseContentSets(contentSets);
    const clients = new Map<string, RegistryClient>();
    for (const registry of new Set(items.map((i) => i.image.registry))) {
        const client = clientFor(registry, credentials);
        await client.ping();
        clients.set(registry, client);
    }
    const resolved: ResolvedImage[] = [];
    for (const item of items) {
        const client = clients.get(item.image.registry)!;
        const manifest = await client.getManifest(item.image.repository, item.image.digest ?? item.image.tag!);
        if (!manifest) {
            throw new RegistryError(`image ${item.source} (content set ${item.contentSet}) does not exist in registry ${item.image.registry}`, 404);
        }
        let estimatedBytes = manifest.body.length;
        const children = INDEX_TYPES.has(manifest.mediaType) ? (JSON.parse(manifest.body.toString()).manifests as Array<{ digest: string }>) : [];
        const bodies = [manifest.body];
        for (const child of children) {
            const m = await client.getManifest(item.image.repository, child.digest);
            if (!m) throw new RegistryError(`image ${item.source}: its index names ${child.digest}, which registry ${item.image.registry} does not have`, 404);
            estimatedBytes += m.body.length;
            bodies.push(m.body);
        }
        for (const body of bodies) {
            const m = JSON.parse(body.toString()) as { config?: { size: number }; layers?: Array<{ size: number }> };
            estimatedBytes += (m.config?.size ?? 0) + (m.layers ?? []).reduce((s, l) => s + l.size, 0);
        }
        resolved.push({ ...item, digest: manifest.digest, mediaType: manifest.mediaType, estimatedBytes });
    }
    return resolved;
}

/** registry/repository@digest: the name an image is archived and loaded under. */
export function pinnedRef(image: ImageRef, digest: string): string {
    return formatRef({ registry: image.registry, repository: image.repository, digest });
}

/** Where an image's archive goes on the partition. */
export function archivePath(contentSet: string, image: ImageRef, digest: string): string {
    return `${contentSet}/${image.repository.replace(/\//g, "_")}_${digest.slice("sha256:".length, "sha256:".length + 16)}.tar`;
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

    // 1. Everything that can fail without writing: registries, images, layout.
    const images = await timed("resolve", opts, () => resolveImages(spec.contentSets, spec.credentials));
    const extraSizes = await Promise.all(spec.extraFiles.map(async (f) => (f.source !== undefined ? (await fs.stat(f.source)).size : Buffer.byteLength(f.content ?? ""))));
    const estimate = planLayout({
        diskBytes: spec.sizeBytes,
        // The list and manifest are small; 64 KiB stands in for them.
        fileSizes: [...images.map((i) => i.estimatedBytes + 64 * 1024), ...extraSizes, ...tooling.map((t) => t.content.length), 65536, 65536],
        filesystem: spec.filesystem,
        headroomPercent: spec.headroomPercent,
    });
    log(`${images.length} images, about ${estimate.contentBytes} bytes; partition ${estimate.partition.startSector}-${estimate.partition.endSector}`);

    await fs.mkdir(path.dirname(spec.path), { recursive: true });
    await sweepStaleTemps(spec.path);
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
        await put(MANIFEST_FILE, `${JSON.stringify(manifestDoc, null, 2)}\n`, 0o644);

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
            const handle = await fs.open(artifact, "r+");
            await handle.datasync();
            await handle.close();
            const sha256 = known ?? (await sha256File(artifact));
            const st = await fs.stat(artifact);
            await fs.rename(artifact, spec.path);
            const dirHandle = await fs.open(path.dirname(spec.path), "r");
            await dirHandle.sync().catch(() => undefined);
            await dirHandle.close();
            log(`${spec.path}: ${st.size} bytes, ${st.blocks * 512} allocated, sha256 ${sha256}`);
            return {
                path: spec.path,
                format: spec.format,
                sha256,
                size: st.size,
                allocatedSize: st.blocks * 512,
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
            };
        });
    } finally {
        await fs.rm(work, { recursive: true, force: true });
    }
}

/** The tag to add on load, when the content set named the image by tag. */
function tagOf(m: ManifestEntry): string | undefined {
    const src = parseRef(m.source);
    return src.tag ? formatRef({ registry: src.registry, repository: src.repository, tag: src.tag }) : undefined;
}

async function fetchArchives(images: ResolvedImage[], stage: string, credentials: Credentials | undefined, log: (s: string) => void): Promise<ManifestEntry[]> {
    const seen = new Set<string>();
    const unique = images.filter((img) => {
        const archive = archivePath(img.contentSet, img.image, img.digest);
        if (seen.has(archive)) return false; // the same image twice in one content set
        seen.add(archive);
        return true;
    });
    // Two at a time: skopeo alternates between waiting on the registry and hashing.
    // After a failure no new fetch starts, and both finish before the caller removes the folder.
    const out: ManifestEntry[] = new Array(unique.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
        while (next < unique.length && !failed) {
            const i = next++;
            try {
                out[i] = await fetchArchive(unique[i], stage, credentials, log);
            } catch (e) {
                failed = true;
                throw e;
            }
        }
    };
    const results = await Promise.allSettled([worker(), worker()]);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected) throw rejected.reason;
    return out;
}

async function fetchArchive(img: ResolvedImage, stage: string, credentials: Credentials | undefined, log: (s: string) => void): Promise<ManifestEntry> {
    const archive = archivePath(img.contentSet, img.image, img.digest);
    const file = path.join(stage, archive);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const ref = pinnedRef(img.image, img.digest);
    const auth = credentials?.registry === img.image.registry ? credentials : undefined;
    await withAuthFile(img.image.registry, auth, (authFile) =>
        run(
            "skopeo",
            [
                "copy",
                "--quiet",
                "--retry-times",
                "2",
                ...containerToolFlags(img.image.registry, authFile, "src"),
                // An index is archived whole, so the archive keeps the registry's digest.
                ...(INDEX_TYPES.has(img.mediaType) ? ["--all"] : []),
                `docker://${ref}`,
                `oci-archive:${file}:${ref}`,
            ],
            { timeoutMs: 60 * 60_000, secrets: auth ? [auth.password] : [] },
        ),
    );
    const index = JSON.parse((await run("tar", ["-xOf", file, "index.json"])).stdout) as { manifests?: Array<{ digest: string }> };
    const archived = index.manifests?.[0]?.digest;
    if (archived !== img.digest) throw new Error(`archive of ${img.source} holds ${archived ?? "no manifest"}, but registry ${img.image.registry} has ${img.digest}`);
    const st = await fs.stat(file);
    log(`archived ${ref} → ${archive} (${st.size} bytes)`);
    return {
        contentSet: img.contentSet,
        ref,
        source: img.source,
        digest: img.digest,
        mediaType: img.mediaType,
        archive,
        archiveSha256: await sha256File(file),
        archiveSize: st.size,
    };
}

async function makeFilesystem(spec: DiskSpec, layout: Layout, staged: StagedFile[], stage: string, work: string, image: string): Promise<void> {
    await fs.writeFile(image, "");
    await fs.truncate(image, layout.filesystem.sizeBytes);
    if (spec.filesystem === "xfs") {
        const proto = path.join(work, "protofile");
        await fs.writeFile(proto, renderXfsProtofile(staged));
        await run("mkfs.xfs", [
            "-q",
            "-L",
            spec.label,
            // RHEL 8 kernels cannot mount filesystems with these newer features.
            "-m",
            "bigtime=0,inobtcount=0",
            "-d",
            `agsize=${layout.filesystem.xfsAgBytes}`,
            "-l",
            `size=${XFS_LOG_BYTES},agnum=1`,
            "-p",
            proto,
            image,
        ], {
            // mkfs.xfs reads each file whole into one malloc'd buffer: huge pages halve the page faults.
            env: { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" },
        });
        await verifyXfsExtents(image, staged);
        await run("xfs_repair", ["-n", "-f", image]);
        await punchXfsLogZeros(image);
    } else {
        await run("mke2fs", [
            "-q",
            "-F",
            "-t",
            "ext4",
            "-b",
            String(FS_BLOCK),
            "-L",
            spec.label,
            "-m",
            "0",
            "-i",
            "65536",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
            "-d",
            stage,
            image,
            `${layout.filesystem.sizeBytes / 1024}k`,
        ]);
        await run("e2fsck", ["-f", "-n", image]);
    }
}

/**
 * xfsprogs 6.1 writes a protofile file's data as one piece at its first
 * extent: only a file that is exactly one extent covering its size was written
 * correctly (and wrote nothing else). Checks every file.
 */
export async function verifyXfsExtents(image: string, staged: StagedFile[]): Promise<void> {
    const files = staged.filter((f) => f.size > 0);
    if (files.length === 0) return;
    const args = ["-r"];
    for (const f of files) args.push("-c", `path /${f.path}`, "-c", "print core.size", "-c", "bmap");
    const out = (await run("xfs_db", [...args, image])).stdout;
    const blocks = out.split(/^core\.size = /m).slice(1);
    if (blocks.length !== files.length) throw new Error(`xfs_db listed ${blocks.length} of ${files.length} files in the new filesystem:\n${out.slice(0, 2000)}`);
    files.forEach((f, i) => {
        const size = Number(blocks[i].split("\n")[0]);
        const extents = [...blocks[i].matchAll(/^data offset (\d+) startblock \d+ \([^)]*\) count (\d+)/gm)];
        const covered = extents.length === 1 && Number(extents[0][1]) === 0 && Number(extents[0][2]) * FS_BLOCK >= size;
        if (size !== f.size || !covered) {
            throw new Error(
                `mkfs.xfs did not place ${f.path} (${f.size} bytes) in one extent (size ${size}, ${extents.length} extents); ` +
                    "the filesystem is not trustworthy. Use filesystem ext4, or more headroom.",
            );
        }
    });
}

/**
 * mkfs.xfs zero-fills the log (as unwritten extents, which count as allocated
 * and which `fallocate --dig-holes` skips): its all-zero runs become holes, so
 * the disk stays sparse. The bytes read back the same.
 */
async function punchXfsLogZeros(image: string): Promise<void> {
    const sb = (await run("xfs_db", ["-r", "-c", "sb 0", "-c", "print logstart logblocks agblocks agblklog", image])).stdout;
    const v = Object.fromEntries([...sb.matchAll(/^(\w+) = (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
    const agno = Math.floor(v.logstart / 2 ** v.agblklog);
    const agbno = v.logstart - agno * 2 ** v.agblklog;
    await punchZeroRuns(image, (agno * v.agblocks + agbno) * FS_BLOCK, v.logblocks * FS_BLOCK);
}

/** Punches holes over the runs of all-zero blocks (at least 64 KiB long) in [offset, offset+length) of `file`. */
export async function punchZeroRuns(file: string, offset: number, length: number): Promise<number> {
    const runs: Array<[number, number]> = [];
    const handle = await fs.open(file, "r");
    try {
        const chunk = Buffer.alloc(1024 * 1024);
        const zeroBlock = Buffer.alloc(FS_BLOCK);
        let runStart = -1;
        for (let pos = offset; pos < offset + length; pos += chunk.length) {
            const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, offset + length - pos), pos);
            for (let b = 0; b < bytesRead; b += FS_BLOCK) {
                const block = chunk.subarray(b, Math.min(b + FS_BLOCK, bytesRead));
                const zero = block.equals(zeroBlock.subarray(0, block.length));
                if (zero && runStart < 0) runStart = pos + b;
                if (!zero && runStart >= 0) {
                    runs.push([runStart, pos + b - runStart]);
                    runStart = -1;
                }
            }
        }
        if (runStart >= 0) runs.push([runStart, offset + length - runStart]);
    } finally {
        await handle.close();
    }
    const worth = runs.filter(([, len]) => len >= 64 * 1024);
    for (const [start, len] of worth) await run("fallocate", ["--punch-hole", "--offset", String(start), "--length", String(len), file]);
    return worth.reduce((sum, [, len]) => sum + len, 0);
}

/** Turns the filesystem image into the disk, in place when the host filesystem can insert a range. */
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

/** Turns the filesystem image into the disk artifact; returns it with its sha256 when already known. */
async function assembleDisk(spec: DiskSpec, layout: Layout, fsImage: string, work: string): Promise<{ artifact: string; sha256?: string }> {
    const disk = fsImage;
    const offset = layout.partition.offsetBytes;
    const { startSector, endSector } = layout.partition;
    const gpt = renderGpt({ totalSectors: layout.totalSectors, startSector, endSector, label: spec.label, diskGuid: randomUUID(), partitionGuid: randomUUID() });
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
