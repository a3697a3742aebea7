import { describe, expect, it } from "vitest";
import {
    ALIGN_SECTORS,
    ext4JournalBytes,
    filesystemBytesFor,
    formatSize,
    GiB,
    LayoutError,
    MiB,
    parseSize,
    planLayout,
    XFS_LOG_AG_BYTES,
    XFS_MIN_BYTES,
} from "../../components/prestage/layout";
import { renderXfsProtofile } from "../../components/prestage/protofile";

describe("parseSize", () => {
    it("reads bytes and binary units", () => {
        expect(parseSize(1048576)).toBe(MiB);
        expect(parseSize("8GiB")).toBe(8 * GiB);
        expect(parseSize("8G")).toBe(8 * GiB);
        expect(parseSize("512 MiB")).toBe(512 * MiB);
        expect(parseSize("4096")).toBe(4096);
        expect(parseSize("2t")).toBe(2048 * GiB);
    });
    it("refuses what is not a size", () => {
        expect(() => parseSize("1.5GiB")).toThrow(/is not a size such as 8GiB/);
        expect(() => parseSize("8 parsecs")).toThrow(LayoutError);
        expect(() => parseSize(-1)).toThrow(/not a positive whole number/);
        expect(() => parseSize(0)).toThrow(/not a positive whole number/);
    });
    it("formats sizes for messages", () => {
        expect(formatSize(512)).toBe("512 B");
        expect(formatSize(1.5 * GiB)).toBe("1.5 GiB");
        expect(formatSize(300 * MiB)).toBe("300 MiB");
    });
});

describe("planLayout", () => {
    const base = { diskBytes: 8 * GiB, fileSizes: [100 * MiB, 50 * MiB, 10], filesystem: "ext4" as const, headroomPercent: 10 };

    it("puts the partition at the end of the disk: 1 MiB aligned start, last usable sector as end", () => {
        const l = planLayout(base);
        expect(l.totalSectors).toBe((8 * GiB) / 512);
        expect(l.lastUsableSector).toBe(l.totalSectors - 34);
        expect(l.partition.endSector).toBe(l.lastUsableSector);
        expect(l.partition.startSector % ALIGN_SECTORS).toBe(0);
        expect(l.partition.offsetBytes).toBe(l.partition.startSector * 512);
        expect(l.partition.sizeBytes).toBe((l.partition.endSector - l.partition.startSector + 1) * 512);
        // The filesystem fills the partition to a whole block.
        expect(l.filesystem.sizeBytes % 4096).toBe(0);
        expect(l.partition.sizeBytes - l.filesystem.sizeBytes).toBeLessThan(4096);
    });

    it("sizes the partition to the content plus headroom (and no more than 1 MiB over)", () => {
        const l = planLayout(base);
        // 150 MiB + one 4 KiB block for the 10-byte file
        expect(l.contentBytes).toBe(150 * MiB + 4096);
        const needed = filesystemBytesFor("ext4", l.contentBytes, 10);
        expect(needed).toBeGreaterThanOrEqual(l.contentBytes * 1.1);
        expect(l.filesystem.sizeBytes).toBeGreaterThanOrEqual(needed);
        expect(l.partition.sizeBytes).toBeLessThan(needed + 2 * MiB);
        const more = planLayout({ ...base, headroomPercent: 50 });
        expect(more.partition.startSector).toBeLessThan(l.partition.startSector);
    });

    it("gives XFS two allocation groups: the content's, and a small one for the 64 MiB log", () => {
        const l = planLayout({ ...base, filesystem: "xfs", fileSizes: [900 * MiB] });
        expect(l.filesystem.xfsAgBytes).toBe(l.filesystem.sizeBytes - XFS_LOG_AG_BYTES);
        expect(l.filesystem.xfsAgBytes!).toBeGreaterThan(900 * MiB * 1.1);
        // Small content still gets the smallest filesystem mkfs.xfs accepts.
        const small = planLayout({ ...base, filesystem: "xfs", fileSizes: [1000] });
        expect(small.filesystem.sizeBytes).toBeGreaterThanOrEqual(XFS_MIN_BYTES);
        expect(small.filesystem.sizeBytes).toBeLessThan(XFS_MIN_BYTES + MiB);
    });

    it("says what is needed and what there is when the content does not fit", () => {
        expect(() => planLayout({ ...base, diskBytes: 100 * MiB })).toThrow(
            /^the content does not fit the disk: 150 MiB of files with 10% headroom needs a 1\d\d MiB ext4 partition, but a 100 MiB disk has room for 99\.0 MiB$/,
        );
        expect(() => planLayout({ ...base, filesystem: "xfs", fileSizes: [1], diskBytes: 256 * MiB })).toThrow(/needs a 3\d\d MiB xfs partition/);
        // Exactly full: the partition may start right after the primary GPT at 1 MiB.
        const needed = filesystemBytesFor("ext4", 150 * MiB + 4096, 10);
        const fit = planLayout({ ...base, diskBytes: Math.ceil(needed / MiB) * MiB + 2 * MiB });
        expect(fit.partition.startSector).toBe(ALIGN_SECTORS);
    });

    it("refuses bad requests", () => {
        expect(() => planLayout({ ...base, diskBytes: 1000 })).toThrow(/multiple of 512/);
        expect(() => planLayout({ ...base, filesystem: "btrfs" as any })).toThrow(/must be one of xfs, ext4/);
        expect(() => planLayout({ ...base, headroomPercent: -1 })).toThrow(/headroom/);
        expect(() => planLayout({ ...base, filesystem: "xfs", fileSizes: [3 * GiB], diskBytes: 100 * GiB })).toThrow(/larger than mkfs\.xfs -p .* use filesystem ext4/);
    });

    it("follows mke2fs's journal sizes", () => {
        expect(ext4JournalBytes(64 * MiB)).toBe(4 * MiB);
        expect(ext4JournalBytes(512 * MiB)).toBe(16 * MiB);
        expect(ext4JournalBytes(8 * GiB)).toBe(64 * MiB);
        expect(ext4JournalBytes(200 * GiB)).toBe(1024 * MiB);
    });
});

describe("renderXfsProtofile", () => {
    it("lists the tree: files with mode and source, directories closed by $", () => {
        const text = renderXfsProtofile([
            { path: "ai-images/b.tar", source: "/s/ai-images/b.tar", mode: 0o644, size: 1 },
            { path: "prestage-load.sh", source: "/s/prestage-load.sh", mode: 0o755, size: 1 },
            { path: "ai-images/a.tar", source: "/s/ai-images/a.tar", mode: 0o644, size: 1 },
            { path: "systemd/x.service", source: "/s/systemd/x.service", mode: 0o644, size: 1 },
        ]);
        expect(text).toBe(
            [
                "/dev/null",
                "0 0",
                "d--755 0 0",
                "  prestage-load.sh ---755 0 0 /s/prestage-load.sh",
                "  ai-images d--755 0 0",
                "    a.tar ---644 0 0 /s/ai-images/a.tar",
                "    b.tar ---644 0 0 /s/ai-images/b.tar",
                "  $",
                "  systemd d--755 0 0",
                "    x.service ---644 0 0 /s/systemd/x.service",
                "  $",
                "$",
                "",
            ].join("\n"),
        );
    });
    it("refuses names the protofile cannot carry", () => {
        expect(() => renderXfsProtofile([{ path: "a b", source: "/s/x", mode: 0o644, size: 1 }])).toThrow(/without whitespace/);
        expect(() => renderXfsProtofile([{ path: "../x", source: "/s/x", mode: 0o644, size: 1 }])).toThrow(/cannot put/);
        expect(() => renderXfsProtofile([{ path: "x", source: "/s/a b", mode: 0o644, size: 1 }])).toThrow(/cannot put/);
    });
});
