// The filesystem image, made from a staging folder without mounting anything:
// mkfs.xfs -p protofile or mke2fs -d, then checked.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { run } from "../exec";
import { FS_BLOCK, XFS_LOG_BYTES, type Filesystem, type Layout } from "./layout";
import { renderXfsProtofile, type StagedFile } from "./protofile";

/** Makes the filesystem image `image` (sized by the layout) holding the staged files, and checks it. */
export async function makeFilesystem(spec: { filesystem: Filesystem; label: string; bytesPerInode?: number }, layout: Layout, staged: StagedFile[], stage: string, work: string, image: string): Promise<void> {
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
            // Archives are few and large; a root filesystem wants ext4's usual one inode per 16 KiB.
            String(spec.bytesPerInode ?? 65536),
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
