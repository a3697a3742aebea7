// The boot gate on the real engine: the demo tree (base → httpd → homepage,
// base → database) is built, tested, made into VM disks, booted in qemu and only
// then released; apache2 and mariadb run under systemd and answer through
// forwarded loopback ports. A no-op up boots nothing; a homepage change boots
// only homepage; a unit that fails at boot (a test-only catalog addition) stops
// that image's release and its child's, with the console's tail in the error.
// The stack also makes the local stack's pre-staged disk (stacks/Pulumi.local.yaml)
// from the released images, and edge-node's VM disk boots with it attached:
// the node loads every image from it with no network, checked by digest, and a
// second boot loads nothing.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ExecError, run } from "../../components/exec";
import { sha256File } from "../../components/hash";
import { parseBootReport } from "../../components/images/boot-test.provider";
import { BOOT_REPORT_MARKER, BOOT_REPORT_PARAM } from "../../components/images/render/boot";
import { consoleTail, startVm } from "../../components/qemu";
import { RegistryClient } from "../../components/registry/client";
import { testRegistry } from "../support/registry";
import { ROOT, TestStack } from "./harness";
import { BROKEN_IMAGE_YAML } from "../support/broken-image";

const IMAGES = ["base", "database", "edge-node", "httpd", "homepage"];
const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images"];

/** The boot gate's steps a preview plans, as "<op> <Type>::<name>". */
async function plannedSteps(stack: TestStack): Promise<string[]> {
    const r = await stack.preview(["--json"]);
    const steps: Array<{ op: string; urn: string }> = JSON.parse(r.stdout).steps ?? [];
    return steps
        .filter((s) => s.op !== "same" && /image-factory:(Image(Build|Test|Release)|VmDisk|BootTest)::/.test(s.urn))
        .map((s) => `${s.op} ${s.urn.replace(/.*image-factory:(\w+)::(.*)$/, "$1::$2")}`)
        .sort();
}

/** The local stack's image-factory:prestage section (what `npm run up` makes), as `config set --path` pairs. */
async function localPrestageConfig(): Promise<Array<[string, string]>> {
    const doc = parse(await fs.readFile(path.join(ROOT, "stacks/Pulumi.local.yaml"), "utf8"));
    const pairs: Array<[string, string]> = [];
    const walk = (key: string, v: unknown): void => {
        if (v !== null && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) walk(Array.isArray(v) ? `${key}[${k}]` : `${key}.${k}`, x);
        } else pairs.push([key, String(v)]);
    };
    walk("image-factory:prestage", doc.config["image-factory:prestage"]);
    return pairs;
}

describe("the boot gate on the real engine", () => {
    let reg: Awaited<ReturnType<typeof testRegistry>>;
    let stack: TestStack;
    let client: RegistryClient;
    const edit = async (file: string, fn: (t: string) => string) => {
        const p = path.join(stack.dir, file);
        await fs.writeFile(p, fn(await fs.readFile(p, "utf8")));
    };

    beforeAll(async () => {
        reg = await testRegistry();
        client = new RegistryClient(reg.address);
        stack = await TestStack.create({ files: PROJECT_FILES, stack: "boot" });
        for (const [k, v] of [
            ["site.name", "e2e"],
            ["site.role", "local"],
            ["registry.url", reg.address],
            ["registry.namespace", "e2e"],
            ["images.select[0]", "homepage"],
            ["images.select[1]", "database"],
            ["images.select[2]", "edge-node"],
        ]) {
            await stack.pulumi(["config", "set", "--path", `image-factory:${k}`, v]);
        }
        for (const [k, v] of await localPrestageConfig()) await stack.pulumi(["config", "set", "--path", k, v]);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await reg?.stop();
    });

    it("up boots each image from its VM disk before releasing it; outputs hold the disk and the boot result", async () => {
        await stack.up();
        const { images } = await stack.outputs();
        expect(Object.keys(images).sort()).toEqual([...IMAGES].sort());
        for (const name of IMAGES) {
            const { boot, vmDisk, digest } = images[name];
            console.log(`${name}: booted (${boot.accel}) in ${boot.seconds}s; VM disk ${vmDisk.size} bytes (${vmDisk.format}), kernel ${vmDisk.kernel.size}, initrd ${vmDisk.initrd.size}`);
            expect(boot, name).toMatchObject({ targetReached: true, failedUnits: 0 });
            expect(vmDisk, name).toMatchObject({ format: "qcow2", digest, virtualSize: 2 * 1024 ** 3 });
            expect(vmDisk.path).toContain(`${name}-${digest.slice(7, 19)}.qcow2`);
            expect(await sha256File(vmDisk.path), name).toBe(vmDisk.sha256);
            expect(await client.resolve(`e2e/${name}`, "latest"), name).toBe(digest);
        }
        // apache2 and mariadb were started by systemd and answered through forwarded ports.
        expect(images.homepage.boot.probes).toEqual({ passed: 1, total: 1 });
        expect(images.database.boot.probes).toEqual({ passed: 1, total: 1 });
        const boots = (await stack.resources()).filter((r) => r.type.endsWith("image-factory:BootTest"));
        expect(boots.map((b) => b.outputs!.digest).sort()).toEqual(IMAGES.map((n) => images[n].digest).sort());
    });

    it(
        "edge-node installs the local stack's pre-staged disk with no network: every image loads, checked by digest; a second boot loads nothing",
        async () => {
            const { images, disks } = await stack.outputs();
            const node = images["edge-node"].vmDisk;
            const disk = disks.demo;
            // The disk holds the catalog's released images, by digest (stacks/Pulumi.local.yaml's content set).
            const manifest: Array<{ ref: string; digest: string; archive: string }> = disk.manifest;
            expect(manifest.map((m) => m.digest)).toEqual(["base", "httpd", "homepage", "database"].map((n) => images[n].digest));
            expect(disk.partition).toMatchObject({ label: "data", filesystem: "xfs" });
            const work = await fs.mkdtemp(path.join(os.tmpdir(), "if-e2e-node-"));
            try {
                // The node's root disk: an overlay on its released VM disk, kept from the first boot to the second.
                const root = path.join(work, "edge-node.qcow2");
                await run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", node.path, "-F", node.format, root]);
                const boot = async (n: number) => {
                    const nonce = randomBytes(8).toString("hex");
                    const vm = await startVm({
                        name: `edge-node-prestage-${n}`,
                        serialLog: path.join(work, `boot-${n}.log`),
                        // The factory disk as /dev/vdb, read-only: the node finds it by its partition label.
                        drives: [
                            { file: root, format: "qcow2" },
                            { file: disk.path, format: disk.format, readOnly: true },
                        ],
                        kernel: { kernel: node.kernel.path, initrd: node.initrd.path, cmdline: `${node.kernelArgs} panic=-1 ${BOOT_REPORT_PARAM}=${nonce}` },
                    });
                    try {
                        // The boot report comes once start-up is over, the load the partition's device started included.
                        await vm.waitFor(new RegExp(`${BOOT_REPORT_MARKER} nonce=${nonce} [^\n]*\n`), 20 * 60_000, "the boot report");
                        const text = consoleTail(await vm.console(), Number.MAX_SAFE_INTEGER);
                        const report = parseBootReport(text, nonce);
                        console.log(`edge-node with the pre-staged disk, boot ${n} (${vm.accel}): ${Math.round((Date.now() - vm.startedAt) / 1000)}s, system ${report?.state}`);
                        expect(report, consoleTail(text, 60)).toMatchObject({ targetReached: true, failedUnits: [] });
                        return text;
                    } finally {
                        await vm.stop();
                    }
                };
                const first = await boot(1);
                // Found by its partition label (the only name the units know) and mounted read-only.
                expect(first).toMatch(/Mounted var-mnt-prestage\.m/);
                expect(first).toContain("XFS (vdb1): Ending clean mount");
                for (const m of manifest) {
                    expect(first).toContain(`prestage-load: loaded ${m.ref} from ${m.archive}`);
                    // Computed in the node: the sha256 of the manifest its container storage holds for the ref.
                    expect(first).toContain(`prestage-load: in storage ${m.ref} ${m.digest}`);
                }
                expect(first).toContain(`prestage-load: ${manifest.length} loaded, 0 already present, 0 failed`);

                // Storage kept on the node's disk: nothing loads again.
                const second = await boot(2);
                expect(second).not.toMatch(/prestage-load: loaded /);
                for (const m of manifest) expect(second).toContain(`prestage-load: in storage ${m.ref} ${m.digest}`);
                expect(second).toContain(`prestage-load: 0 loaded, ${manifest.length} already present, 0 failed`);
            } finally {
                await fs.rm(work, { recursive: true, force: true });
            }
        },
        60 * 60_000,
    ); // TCG: unpacking the images in the guest takes minutes

    it("a no-op up boots nothing", async () => {
        const r = await stack.up();
        expect(r.stdout).not.toMatch(/\[(build|vm-disk|boot) [\w-]+\]/);
        await stack.preview(["--expect-no-changes"]);
    });

    it("a homepage change makes and boots only homepage's disk", async () => {
        const before = (await stack.outputs()).images;
        await edit("images/files/homepage/index.html", (t) => t.replace("Image Mode for the edge", "Image Mode for the edge, booted"));
        const planned = await plannedSteps(stack);
        expect(planned.filter((p) => !p.endsWith("::homepage"))).toEqual([]);
        expect(planned).toEqual(expect.arrayContaining(["update BootTest::homepage", "update ImageBuild::homepage"]));
        expect(planned.some((p) => /VmDisk::homepage/.test(p))).toBe(true);
        const r = await stack.up();
        expect(r.stdout).toMatch(/\[boot homepage\] booted/);
        expect(r.stdout).not.toMatch(/\[(vm-disk|boot) (base|httpd|database)\]/);
        const after = (await stack.outputs()).images;
        for (const name of ["base", "httpd", "database"]) expect(after[name].vmDisk, name).toEqual(before[name].vmDisk);
        expect(after.homepage.vmDisk.sha256).not.toBe(before.homepage.vmDisk.sha256);
        await expect(fs.stat(before.homepage.vmDisk.path)).rejects.toThrow(); // the replaced disk is gone
    });

    it("a unit that fails at boot stops the image's release and its child's, with the console's tail", async () => {
        // A test-only catalog addition: a child of base whose service cannot start, and its child.
        await fs.writeFile(path.join(stack.dir, "images/broken.yaml"), BROKEN_IMAGE_YAML);
        await fs.writeFile(path.join(stack.dir, "images/broken-child.yaml"), 'name: broken-child\nversion: "1.0.0"\nparent: broken\n');
        await stack.pulumi(["config", "set", "--path", "image-factory:images.select[3]", "broken-child"]);
        const err = (await stack.up().catch((e: ExecError) => e)) as ExecError;
        expect(err).toBeInstanceOf(ExecError);
        const output = `${err.stdout}\n${err.stderr}`;
        expect(output).toMatch(/broken: boot test failed for .*\/e2e\/broken@sha256:[a-f0-9]{64}: 1 unit\(s\) failed at boot: broken\.service; nothing is released/);
        expect(output).toMatch(/Serial console \(last lines of .*broken-[a-f0-9]{12}\.boot\.log\):/);
        expect(output).toMatch(/\| .*broken\.service/);
        expect(output).not.toMatch(/\[build broken-child\] building/);
        expect(await client.listTags("e2e/broken")).toEqual([]);
        expect(await client.listTags("e2e/broken-child")).toEqual([]);
        // The rest of the tree stays released.
        const { images } = await stack.outputs();
        expect(Object.keys(images).sort()).toEqual([...IMAGES].sort());
    });

    it("destroy removes the VM disks", async () => {
        const { images } = await stack.outputs();
        await stack.destroy();
        for (const name of IMAGES) await expect(fs.stat(images[name].vmDisk.path), name).rejects.toThrow();
    });
});
