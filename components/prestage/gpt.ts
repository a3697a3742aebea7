// A GPT with one partition, rendered as bytes (UEFI spec, chapter 5): the
// protective MBR, the primary header and entries at the start of the disk, the
// backup entries and header at its end. Written by the build with two
// positional writes: sgdisk would do the same but calls sync(), which flushes
// every filesystem of a shared build host. sgdisk reads the result back.
import { crc32 } from "node:zlib";
import { GPT_HEAD_SECTORS, GPT_TAIL_SECTORS, SECTOR } from "./layout";

/** "Linux filesystem data" (sgdisk type 8300). */
export const LINUX_FILESYSTEM_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ENTRIES = 128;
const ENTRY_SIZE = 128;
const HEADER_SIZE = 92;

/** A GUID in GPT's mixed-endian byte order: the first three fields little-endian. */
export function guidBytes(guid: string): Buffer {
    const hex = guid.replace(/-/g, "");
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`"${guid}" is not a GUID`);
    const b = Buffer.from(hex, "hex");
    return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

export interface GptRequest {
    totalSectors: number;
    startSector: number;
    endSector: number;
    /** Partition name (GPT label), up to 36 UTF-16 code units. */
    label: string;
    diskGuid: string;
    partitionGuid: string;
    typeGuid?: string;
}

/** The first 34 sectors and the last 33 sectors of the disk. */
export function renderGpt(r: GptRequest): { head: Buffer; tail: Buffer } {
    if (r.label.length > 36) throw new Error(`GPT partition name "${r.label}" is longer than 36 characters`);
    const lastUsable = r.totalSectors - GPT_TAIL_SECTORS - 1;
    if (!(r.startSector >= GPT_HEAD_SECTORS && r.startSector <= r.endSector && r.endSector <= lastUsable)) {
        throw new Error(`partition ${r.startSector}-${r.endSector} is outside the usable sectors ${GPT_HEAD_SECTORS}-${lastUsable}`);
    }
    const entries = Buffer.alloc(ENTRIES * ENTRY_SIZE);
    guidBytes(r.typeGuid ?? LINUX_FILESYSTEM_TYPE).copy(entries, 0);
    guidBytes(r.partitionGuid).copy(entries, 16);
    entries.writeBigUInt64LE(BigInt(r.startSector), 32);
    entries.writeBigUInt64LE(BigInt(r.endSector), 40);
    entries.write(r.label, 56, 72, "utf16le");
    const entriesCrc = crc32(entries);

    const header = (current: number, backup: number, entriesLba: number) => {
        const h = Buffer.alloc(SECTOR);
        h.write("EFI PART", 0, "ascii");
        h.writeUInt32LE(0x00010000, 8);
        h.writeUInt32LE(HEADER_SIZE, 12);
        h.writeBigUInt64LE(BigInt(current), 24);
        h.writeBigUInt64LE(BigInt(backup), 32);
        h.writeBigUInt64LE(BigInt(GPT_HEAD_SECTORS), 40);
        h.writeBigUInt64LE(BigInt(lastUsable), 48);
        guidBytes(r.diskGuid).copy(h, 56);
        h.writeBigUInt64LE(BigInt(entriesLba), 72);
        h.writeUInt32LE(ENTRIES, 80);
        h.writeUInt32LE(ENTRY_SIZE, 84);
        h.writeUInt32LE(entriesCrc, 88);
        h.writeUInt32LE(crc32(h.subarray(0, HEADER_SIZE)), 16);
        return h;
    };

    const mbr = Buffer.alloc(SECTOR);
    // One partition of type 0xEE covering the disk (or as much as 32 bits can say).
    mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
    mbr.writeUInt32LE(1, 454);
    mbr.writeUInt32LE(Math.min(r.totalSectors - 1, 0xffffffff), 458);
    mbr.writeUInt16LE(0xaa55, 510);

    const last = r.totalSectors - 1;
    return {
        head: Buffer.concat([mbr, header(1, last, 2), entries]),
        tail: Buffer.concat([entries, header(last, 1, last - (GPT_TAIL_SECTORS - 1))]),
    };
}
