// `npm run bench`: the image pipeline against a hand-rolled buildah script
// (bench/baseline.sh), measured side by side in one run, on one registry:
//   first run           script (builds, tests, pushes 4 images)  vs  first `pulumi up`
//   re-run / no-op      script again (it rebuilds everything)    vs  `pulumi up` with nothing changed
//   homepage changed    script again                             vs  `pulumi up` after a homepage-only change
// and the boot gate's share of each `up` (VM disks made + boots; the script boots nothing).
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { run } from "../components/exec";
import { cacheDir as defaultCacheDir } from "../components/cache";
import { bootstrapRootfs } from "../components/images/buildah";
import { withTempDir } from "../components/temp-dir";
import { loadCatalog, selectImages } from "../components/images/catalog";
import { resolveImages } from "../components/images/definition";
import { ROOTFS_TAR } from "../components/images/render/containerfile";
import { testRegistry } from "../test/support/registry";
import { TestStack } from "../test/e2e/harness";
import { generateSigningKey } from "../components/supply-chain/sigstore";

const GOALS = { first: 1.2, noop: 0.15, homepage: 0.35 };

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
    const t0 = performance.now();
    const r = await fn();
    return [(performance.now() - t0) / 1000, r];
}

/** Writes each image's build context (as the pipeline renders it) for the script. */
async function writeContexts(projectDir: string, out: string): Promise<void> {
    const catalog = loadCatalog(path.join(projectDir, "images"));
    const cacheDir = defaultCacheDir();
    await fs.rm(out, { recursive: true, force: true });
    for (const [name, r] of resolveImages(catalog, selectImages(catalog, ["homepage", "database"]))) {
        for (const [rel, bytes] of r.context) {
            await fs.mkdir(path.dirname(path.join(out, name, rel)), { recursive: true });
            await fs.writeFile(path.join(out, name, rel), bytes);
        }
        if (r.def.source?.kind === "rootfs") {
            await fs.copyFile(await bootstrapRootfs(r.def.source, cacheDir, () => undefined), path.join(out, name, ROOTFS_TAR));
        }
    }
}

const builds = (stdout: string) => new Set([...stdout.matchAll(/\[build (\w+)\] building/g)].map((m) => m[1])).size;

/** The boot gate in an up's output: boots, and seconds summed over images (VM disk made + boot to the report + probes). */
function bootGate(stdout: string): { boots: number; seconds: number } {
    const disks = [...stdout.matchAll(/\[vm-disk [\w.-]+\] .* in (\d+)s$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const boots = [...stdout.matchAll(/\[boot [\w.-]+\] booted \(\w+\) in (\d+)s/g)];
    return { boots: boots.length, seconds: disks + boots.reduce((sum, m) => sum + Number(m[1]), 0) };
}

async function main(): Promise<void> {
    const reg = await testRegistry();
    const stack = await TestStack.create({ files: ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images"], stack: "bench" });
    const storage = path.join(defaultCacheDir(), "containers");
    try {
        // Every first build really builds, as the script's does: the build cache (kept builds of the same definition) is off.
        for (const [k, v] of [["site.name", "bench"], ["site.role", "local"], ["registry.url", reg.address], ["registry.namespace", "pulumi"], ["images.select[0]", "homepage"], ["images.select[1]", "database"], ["builder.reuseBuilds", "false"]]) {
            await stack.pulumi(["config", "set", "--path", `image-factory:${k}`, v]);
        }
        // A fleet key, as `npm run up` gives the local stack: every image is signed, with its SBOM and provenance.
        const fleet = generateSigningKey();
        await stack.setSecret("image-factory:signingKey", fleet.privateKey);
        await stack.pulumi(["config", "set", "--path", "image-factory:signing.publicKey", "--non-interactive"], { input: fleet.publicKey });
        await withTempDir("if-bench-", async (ctx) => {
            const script = () => run("bash", [path.join(__dirname, "baseline.sh"), ctx, reg.address, storage], { timeoutMs: 60 * 60_000 });
            const log = (s: string) => console.error(`[bench] ${s}`);

            await writeContexts(stack.dir, ctx);
            log("script, first run ...");
            const [s1] = await timed(script);
            log("pulumi up, first ...");
            const [p1, r1] = await timed(() => stack.up());
            log("script, re-run ...");
            const [s2] = await timed(script);
            log("pulumi up, no change ...");
            const [p2, r2] = await timed(() => stack.up());

            const homepage = path.join(stack.dir, "images/homepage.yaml");
            await fs.writeFile(homepage, (await fs.readFile(homepage, "utf8")).replace('version: "1.0.0"', 'version: "1.0.1"'));
            const html = path.join(stack.dir, "images/files/homepage/index.html");
            await fs.writeFile(html, (await fs.readFile(html, "utf8")).replace("</h1>", " (benchmark edit)</h1>"));
            await writeContexts(stack.dir, ctx);
            log("script, homepage changed ...");
            const [s3] = await timed(script);
            log("pulumi up, homepage changed ...");
            const [p3, r3] = await timed(() => stack.up());

            const rows = [
                ["first run", s1, p1, builds(r1.stdout), GOALS.first],
                ["re-run / no-op up", s2, p2, builds(r2.stdout), GOALS.noop],
                ["homepage changed", s3, p3, builds(r3.stdout), GOALS.homepage],
            ] as const;
            console.log("\nimage pipeline: pulumi up vs a plain buildah script (bench/baseline.sh), same machine, same run\n");
            console.log(`${"".padEnd(20)}${"script s".padStart(10)}${"pulumi s".padStart(10)}${"ratio".padStart(8)}${"builds".padStart(8)}${"goal".padStart(9)}   ok`);
            for (const [what, s, p, b, goal] of rows) {
                const ratio = p / s;
                console.log(`${what.padEnd(20)}${s.toFixed(1).padStart(10)}${p.toFixed(1).padStart(10)}${ratio.toFixed(2).padStart(8)}${String(b).padStart(8)}${`≤ ${goal.toFixed(2)}`.padStart(9)}   ${ratio <= goal ? "yes" : "NO"}`);
            }
            console.log("\n(the script has no notion of change: it rebuilds, retests and repushes all 4 images every run)");
            console.log("\nboot gate (VM disk + qemu boot + probes per image, summed; images boot in parallel where the graph allows)\n");
            console.log(`${"".padEnd(20)}${"boots".padStart(8)}${"gate s".padStart(10)}${"up s".padStart(10)}${"share".padStart(8)}${"vs script".padStart(11)}`);
            for (const [what, s, p, r] of [["first run", s1, p1, r1], ["re-run / no-op up", s2, p2, r2], ["homepage changed", s3, p3, r3]] as const) {
                const g = bootGate(r.stdout);
                console.log(`${what.padEnd(20)}${String(g.boots).padStart(8)}${g.seconds.toFixed(0).padStart(10)}${p.toFixed(1).padStart(10)}${`${((100 * g.seconds) / p).toFixed(0)}%`.padStart(8)}${(g.seconds / s).toFixed(2).padStart(11)}`);
            }
            // The supply chain's share of pulumi's first up: each ImageSign's own time (SBOM from the layers, signature,
            // attestations, read back and verified), as it logs it.
            // (the engine prints a provider's lines live and again in its summary: one per image)
            const signing = (stdout: string) => [...new Map([...stdout.matchAll(/\[sign (\w+)\] .*? in (\d+) ms/g)].map((m) => [m[1], Number(m[2]) / 1000])).values()];
            const [first, noop, changed] = [signing(r1.stdout), signing(r2.stdout), signing(r3.stdout)];
            const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
            console.log(
                `\nsupply chain: signing + SBOM + provenance took ${sum(first).toFixed(1)} s of the first up's ${p1.toFixed(1)} s ` +
                    `(ratio ${(sum(first) / p1).toFixed(3)}, ${first.length} images); no-op up: ${noop.length} signed; homepage changed: ${changed.length} signed (${sum(changed).toFixed(1)} s)`,
            );
        }, path.join(defaultCacheDir(), "tmp"));
        await stack.destroy();
    } finally {
        await stack.cleanup();
        await reg.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
