// bench:prestage — how fast a pre-staged disk is made, against `cp` of the
// same bytes, measured side by side in one run; and how much of the disk is
// really allocated (it is sparse) against the content it holds.
//
// Content: IMAGES images of LAYER_MIB MiB of random bytes each, pushed to a
// registry on loopback. For each filesystem, ROUNDS rounds alternate:
//   build  buildDisk() end to end: resolve, skopeo → archives, mkfs, place, GPT, fsync, sha256, rename
//   cp     cp of the same archives (file → file) + fdatasync of the copies
// and report the medians. "assembly" is the build without the registry
// fetch: staged archives → verified disk, the part that replaces the
// prototype's sgdisk/mkfs/copy steps.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../components/exec";
import { buildDisk, type DiskSpec } from "../components/prestage/build";
import { GiB, MiB } from "../components/prestage/layout";
import { startRegistry } from "../scripts/services/registry";
import { pushImage } from "../test/support/images";

const IMAGES = Number(process.env.BENCH_IMAGES ?? 4);
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DISK = process.env.BENCH_DISK ?? "1GiB";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mibps = (bytes: number, ms: number) => (bytes / MiB / (ms / 1000)).toFixed(0);

async function main(): Promise<void> {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), "if-bench-prestage-"));
    const reg = await startRegistry({ dataDir: path.join(work, "registry") });
    try {
        const refs: string[] = [];
        for (let i = 0; i < IMAGES; i++) refs.push((await pushImage(reg.address, `bench/img${i}`, "1", { [`etc/img${i}`]: `${i}\n` }, LAYER_MIB * MiB)).ref);
        console.log(`content: ${IMAGES} images × ${LAYER_MIB} MiB of random bytes; disk ${DISK}; ${ROUNDS} rounds; registry ${reg.address}`);

        // The same archives the build makes, for cp to copy.
        const src = path.join(work, "archives");
        await fs.mkdir(src);
        for (const [i, ref] of refs.entries()) await run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci-archive:${src}/img${i}.tar:${ref}`]);
        const files = await fs.readdir(src);
        const bytes = (await Promise.all(files.map(async (f) => (await fs.stat(path.join(src, f))).size))).reduce((a, b) => a + b, 0);

        const rows: string[] = [];
        for (const filesystem of ["xfs", "ext4"] as const) {
            const cp: number[] = [];
            const total: number[] = [];
            const assembly: number[] = [];
            const fetch: number[] = [];
            const mkfs: number[] = [];
            const place: number[] = [];
            let allocated = 0;
            let content = 0;
            for (let r = 0; r < ROUNDS; r++) {
                const dst = path.join(work, "cp");
                await fs.rm(dst, { recursive: true, force: true });
                const t0 = Date.now();
                await run("cp", ["-r", src, dst]);
                await run("sync", ["-d", ...files.map((f) => path.join(dst, f))]);
                cp.push(Date.now() - t0);
                await fs.rm(dst, { recursive: true, force: true });

                const spec: DiskSpec = {
                    path: path.join(work, "disks", `bench-${filesystem}.raw`),
                    sizeBytes: DISK.endsWith("GiB") ? Number(DISK.slice(0, -3)) * GiB : Number(DISK),
                    format: "raw",
                    label: "data",
                    filesystem,
                    headroomPercent: 10,
                    mountPoint: "/var/mnt/prestage",
                    contentSets: { "bench-images": refs },
                    extraFiles: [],
                };
                const phases: Record<string, number> = {};
                const t1 = Date.now();
                const disk = await buildDisk(spec, { onPhase: (p, ms) => (phases[p] = ms) });
                total.push(Date.now() - t1);
                fetch.push(phases.fetch);
                mkfs.push(phases.filesystem);
                place.push(phases.assemble + phases.finish);
                assembly.push(phases.filesystem + phases.assemble + phases.finish);
                allocated = disk.allocatedSize;
                content = disk.contentBytes;
                await fs.rm(spec.path);
            }
            const [c, t, a] = [median(cp), median(total), median(assembly)];
            rows.push(
                `${filesystem.padEnd(5)} cp ${c} ms (${mibps(bytes, c)} MiB/s) | build ${t} ms (${mibps(bytes, t)} MiB/s, ratio ${(c / t).toFixed(2)}×; ` +
                    `registry fetch ${median(fetch)} ms) | assembly ${a} ms (${mibps(bytes, a)} MiB/s, ratio ${(c / a).toFixed(2)}×) | ` +
                    `allocated ${(allocated / MiB).toFixed(1)} MiB / content ${(content / MiB).toFixed(1)} MiB = ${(allocated / content).toFixed(3)}`,
                `      assembly = mkfs + checks ${median(mkfs)} ms + placing, GPT, sha256 of the ${DISK} artifact, fsync, rename ${median(place)} ms`,
            );
        }
        console.log(`archives: ${(bytes / MiB).toFixed(1)} MiB in ${files.length} files`);
        for (const row of rows) console.log(row);
        console.log("ratio = cp time / disk time (goal ≥ 0.8); allocated / content (goal ≤ 1.05)");
    } finally {
        await reg.stop();
        await fs.rm(work, { recursive: true, force: true });
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
