// The GPT writer against sgdisk, which reads what it wrote.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readPartitionTable } from "../../components/prestage/build";
import { guidBytes, renderGpt } from "../../components/prestage/gpt";
import { MiB, planLayout } from "../../components/prestage/layout";

describe("renderGpt", () => {
    it("encodes GUIDs mixed-endian", () => {
        expect(guidBytes("0FC63DAF-8483-4772-8E79-3D69D8477DE4").toString("hex")).toBe("af3dc60f838472478e793d69d8477de4");
        expect(() => guidBytes("nope")).toThrow(/not a GUID/);
    });

    it("writes a table sgdisk reads back without problems: one partition, last, aligned, labelled", async () => {
        const layout = planLayout({ diskBytes: 64 * MiB, fileSizes: [MiB], filesystem: "ext4", headroomPercent: 10 });
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-gpt-"));
        const disk = path.join(dir, "d.raw");
        try {
            const { head, tail } = renderGpt({
                totalSectors: layout.totalSectors,
                startSector: layout.partition.startSector,
                endSector: layout.partition.endSector,
                label: "data",
                diskGuid: "11111111-2222-3333-4444-555555555555",
                partitionGuid: "66666666-7777-8888-9999-aaaaaaaaaaaa",
            });
            expect(head.length).toBe(34 * 512);
            expect(tail.length).toBe(33 * 512);
            await fs.writeFile(disk, "");
            await fs.truncate(disk, layout.diskBytes);
            const h = await fs.open(disk, "r+");
            await h.write(head, 0, head.length, 0);
            await h.write(tail, 0, tail.length, layout.diskBytes - tail.length);
            await h.close();
            const table = await readPartitionTable(disk);
            expect(table).toEqual({
                start: layout.partition.startSector,
                end: layout.partition.endSector,
                name: "data",
                valid: true,
                lastUsable: layout.lastUsableSector,
                partitions: 1,
            });
            expect(table.start % 2048).toBe(0);
            expect(table.end).toBe(table.lastUsable);
        } finally {
            await fs.rm(dir, { recursive: true, force: true });
        }
    });

    it("refuses a partition outside the usable sectors", () => {
        const base = { totalSectors: 131072, label: "data", diskGuid: "11111111-2222-3333-4444-555555555555", partitionGuid: "66666666-7777-8888-9999-aaaaaaaaaaaa" };
        expect(() => renderGpt({ ...base, startSector: 2048, endSector: 131072 - 33 })).toThrow(/outside the usable sectors 34-131038/);
        expect(() => renderGpt({ ...base, startSector: 2048, endSector: 4096, label: "x".repeat(37) })).toThrow(/longer than 36/);
    });
});
