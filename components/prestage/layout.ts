// Disk layout of a pre-staged disk: pure arithmetic, no I/O.
//
// The disk is GPT with one partition, placed at the END of the disk so that an
// OS installer (coreos-installer --save-partlabel) can write the OS from the
// start of the disk and keep the partition. The partition starts on a 1 MiB
// boundary and ends on the last usable sector (before the backup GPT); it is
// sized to the content plus headroom, and the filesystem fills it.
import { FactoryError } from "../errors";

export const SECTOR = 512;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
/** Partition alignment: 1 MiB = 2048 sectors. */
export const ALIGN_SECTORS = MiB / SECTOR;
/** Protective MBR (1) + GPT header (1) + 128 entries of 128 bytes (32). */
export const GPT_HEAD_SECTORS = 34;
/** Backup entries (32) + backup header (1) at the end of the disk. */
export const GPT_TAIL_SECTORS = 33;
export const FS_BLOCK = 4096;

export const FILESYSTEMS = ["xfs", "ext4"] as const;
export type Filesystem = (typeof FILESYSTEMS)[number];
export const FORMATS = ["raw", "qcow2"] as const;
export type DiskFormat = (typeof FORMATS)[number];

/**
 * XFS geometry. mkfs.xfs (xfsprogs 6.1) -p protofile writes each file's data
 * in one piece after asking for a single extent: a file that does not get one
 * contiguous extent silently overwrites whatever follows it. So the filesystem
 * gets two allocation groups: AG 0 holds all content in one free run, AG 1 is
 * small and holds the 64 MiB log. The build verifies afterwards that every
 * file is one extent covering its size.
 */
export const XFS_LOG_BYTES = 64 * MiB;
export const XFS_LOG_AG_BYTES = 80 * MiB;
/** mkfs.xfs refuses smaller filesystems. */
export const XFS_MIN_BYTES = 300 * MiB;
/** The protofile reader keeps a file's length in an int. */
export const XFS_MAX_FILE_BYTES = 2 * GiB - FS_BLOCK;
export const XFS_MAX_AG_BYTES = 1024 * GiB;
export const EXT4_MIN_BYTES = 32 * MiB;

export class LayoutError extends FactoryError {
    constructor(message: string) {
        super(message);
        this.name = "LayoutError";
    }
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kib: 1024, m: MiB, mib: MiB, g: GiB, gib: GiB, t: 1024 * GiB, tib: 1024 * GiB };

/** Parses a size: bytes as a number, or "<integer><unit>" with binary units (K, M, G, T, KiB, MiB, GiB, TiB). */
export function parseSize(value: string | number): number {
    if (typeof value === "number") {
        if (!Number.isSafeInteger(value) || value <= 0) throw new LayoutError(`size ${value} is not a positive whole number of bytes`);
        return value;
    }
    const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
    const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new LayoutError(`size "${value}" is not a size such as 8GiB, 512MiB or 1073741824`);
    const bytes = Number(m[1]) * unit;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new LayoutError(`size "${value}" is out of range`);
    return bytes;
}

/** "1.5 GiB": for messages. */
export function formatSize(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = bytes;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
const roundDown = (n: number, to: number) => Math.floor(n / to) * to;

export interface LayoutRequest {
    diskBytes: number;
    /** Size of every file the partition holds (archives, tooling, manifest, extra files). */
    fileSizes: number[];
    filesystem: Filesystem;
    /** Free space kept on top of the content, in percent of the content. */
    headroomPercent: number;
    /** "end" (default): the partition sits at the end of the disk, sized to the content (pre-staged data). "fill": it fills the disk (a VM's root). */
    placement?: "end" | "fill";
}

export interface Layout {
    diskBytes: number;
    totalSectors: number;
    firstUsableSector: number;
    lastUsableSector: number;
    /** Content as the filesystem stores it (each file rounded up to whole blocks). */
    contentBytes: number;
    partition: {
        number: 1;
        /** First and last sector, inclusive (sgdisk's numbers). */
        startSector: number;
        endSector: number;
        offsetBytes: number;
        sizeBytes: number;
    };
    filesystem: {
        type: Filesystem;
        /** The filesystem image size: the partition rounded down to whole blocks. */
        sizeBytes: number;
        /** XFS only: size of allocation group 0 (the content), in bytes. */
        xfsAgBytes?: number;
    };
}

/** The smallest filesystem that holds `contentBytes` with headroom. */
export function filesystemBytesFor(filesystem: Filesystem, contentBytes: number, headroomPercent: number): number {
    const withHeadroom = roundUp(Math.ceil(contentBytes * (1 + headroomPercent / 100)), FS_BLOCK);
    // Metadata besides the content: inode chunks, directories, btrees, bitmaps
    // (1% + 8 MiB covers both filesystems with the options the build uses).
    const metadata = roundUp(Math.ceil(contentBytes / 100), FS_BLOCK) + 8 * MiB;
    if (filesystem === "xfs") return Math.max(XFS_MIN_BYTES, withHeadroom + metadata + XFS_LOG_AG_BYTES);
    return Math.max(EXT4_MIN_BYTES, withHeadroom + metadata + ext4JournalBytes(withHeadroom + metadata));
}

/** mke2fs's default journal size for a filesystem of about `bytes`. */
export function ext4JournalBytes(bytes: number): number {
    const blocks = bytes / FS_BLOCK;
    if (blocks < 32768) return 4 * MiB;
    if (blocks < 256 * 1024) return 16 * MiB;
    if (blocks < 512 * 1024) return 32 * MiB;
    if (blocks < 4096 * 1024) return 64 * MiB;
    if (blocks < 8192 * 1024) return 128 * MiB;
    if (blocks < 16384 * 1024) return 256 * MiB;
    if (blocks < 32768 * 1024) return 512 * MiB;
    return 1024 * MiB;
}

/**
 * Places the data partition at the end of the disk. Throws a LayoutError that
 * says how much is needed and how much there is when the content does not fit.
 */
export function planLayout(req: LayoutRequest): Layout {
    const { diskBytes, fileSizes, filesystem, headroomPercent } = req;
    if (!Number.isSafeInteger(diskBytes) || diskBytes <= 0 || diskBytes % SECTOR !== 0) {
        throw new LayoutError(`disk size ${diskBytes} must be a positive multiple of ${SECTOR} bytes`);
    }
    if (!FILESYSTEMS.includes(filesystem)) throw new LayoutError(`filesystem "${filesystem}" must be one of ${FILESYSTEMS.join(", ")}`);
    if (!(headroomPercent >= 0 && headroomPercent <= 1000)) throw new LayoutError(`headroom ${headroomPercent}% must be between 0 and 1000`);
    if (filesystem === "xfs") {
        const big = fileSizes.find((s) => s > XFS_MAX_FILE_BYTES);
        if (big !== undefined) {
            throw new LayoutError(
                `a file of ${formatSize(big)} is larger than mkfs.xfs -p (xfsprogs 6.1) can write (${formatSize(XFS_MAX_FILE_BYTES)}); use filesystem ext4`,
            );
        }
    }
    const contentBytes = fileSizes.reduce((sum, s) => sum + roundUp(s, FS_BLOCK), 0);
    const neededBytes = roundUp(filesystemBytesFor(filesystem, contentBytes, headroomPercent), MiB);

    const totalSectors = diskBytes / SECTOR;
    const firstUsableSector = GPT_HEAD_SECTORS;
    const lastUsableSector = totalSectors - GPT_TAIL_SECTORS - 1;
    const endSector = lastUsableSector;
    const startSector = req.placement === "fill" && ALIGN_SECTORS + neededBytes / SECTOR <= endSector + 1 ? ALIGN_SECTORS : roundDown(endSector + 1 - neededBytes / SECTOR, ALIGN_SECTORS);
    // The first aligned sector after the primary GPT is 2048 (1 MiB).
    if (startSector < ALIGN_SECTORS) {
        const room = Math.max(0, (lastUsableSector + 1 - ALIGN_SECTORS) * SECTOR);
        throw new LayoutError(
            `the content does not fit the disk: ${formatSize(contentBytes)} of files with ${headroomPercent}% headroom needs a ` +
                `${formatSize(neededBytes)} ${filesystem} partition, but a ${formatSize(diskBytes)} disk has room for ${formatSize(room)}`,
        );
    }
    const sizeSectors = endSector - startSector + 1;
    const fsBytes = roundDown(sizeSectors * SECTOR, FS_BLOCK);
    if (filesystem === "xfs" && fsBytes - XFS_LOG_AG_BYTES > XFS_MAX_AG_BYTES) {
        throw new LayoutError(`${formatSize(contentBytes)} of content is more than one XFS allocation group holds (1 TiB); use filesystem ext4`);
    }
    return {
        diskBytes,
        totalSectors,
        firstUsableSector,
        lastUsableSector,
        contentBytes,
        partition: { number: 1, startSector, endSector, offsetBytes: startSector * SECTOR, sizeBytes: sizeSectors * SECTOR },
        filesystem: {
            type: filesystem,
            sizeBytes: fsBytes,
            xfsAgBytes: filesystem === "xfs" ? fsBytes - XFS_LOG_AG_BYTES : undefined,
        },
    };
}
