// VmDisk and BootTest against the real tools: the catalog's own base image
// (images/base.yaml, with its kernel and initramfs) is built and pushed to a
// test registry, made into a VM disk, and booted in qemu to its default target.
// A child with a unit that fails at boot must fail the gate, with the console's
// tail in the error. Boot times are printed (TCG here), never asserted.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { parseBootReport, provider as bootProvider, type BootTestInputs, type BootTestOutputs } from "../../components/images/boot-test.provider";
import { buildah } from "../../components/images/buildah";
import { BOOT_REPORT_MARKER } from "../../components/images/render/boot";
import { provider as diskProvider, ROOT_X86_64_TYPE, type VmDiskOutputs } from "../../components/images/vm-disk.provider";
import { readPartitionTable } from "../../components/prestage/build";
import { sha256File } from "../../components/hash";
import { buildCatalogImage, catalogStorage } from "../support/catalog-image";
import { testRegistry } from "../support/registry";
import { BROKEN_IMAGE_YAML } from "../support/broken-image";

const storage = catalogStorage();
const ROOT = path.resolve(__dirname, "../..");

let reg: Awaited<ReturnType<typeof testRegistry>>;
let work: string;
let baseRef: string;

function bootInputs(image: string, ref: string, d: VmDiskOutputs, extra: Partial<BootTestInputs> = {}): BootTestInputs {
    return {
        image,
        ref,
        disk: { path: d.path, format: d.format, sha256: d.sha256 },
        kernel: d.kernel.path,
        initrd: d.initrd.path,
        kernelArgs: d.kernelArgs,
        probes: [],
        timeoutSeconds: 1200,
        memoryMiB: 1024,
        accel: "auto",
        serialLog: path.join(work, `${image}.boot.log`),
        ...extra,
    };
}

beforeAll(async () => {
    reg = await testRegistry();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-vm-boot-"));
    const started = Date.now();
    baseRef = await buildCatalogImage(reg.address, path.join(ROOT, "images"), "base", null, "boot/base");
    console.log(`catalog base built in ${Math.round((Date.now() - started) / 1000)}s: ${baseRef}`);
}, 45 * 60_000); // a kernel image's first build takes over 15 minutes on 2 busy cores

afterAll(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
});

describe("parseBootReport", () => {
    it("reads only the line with this boot's nonce", () => {
        const text = `x\r\n${BOOT_REPORT_MARKER} nonce=old state=running target=a active=active uptime=1 failed=\n\x1b[0m${BOOT_REPORT_MARKER} nonce=n1 state=degraded target=multi-user.target active=active uptime=42.5 failed=a.service,b.service,\r\n`;
        expect(parseBootReport(text, "n1")).toEqual({ state: "degraded", target: "multi-user.target", targetReached: true, failedUnits: ["a.service", "b.service"], guestSeconds: 42.5 });
        expect(parseBootReport(text, "n2")).toBeUndefined();
    });
});

describe("VmDisk and BootTest on the catalog's base image", () => {
    let disk: VmDiskOutputs;

    it("check names each bad input", async () => {
        const r = await diskProvider.check({}, { image: "Base!", ref: "127.0.0.1:5000/x:1", dir: "rel", format: "vmdk", size: "3KiB", storage });
        expect(r.failures?.map((f) => f.property)).toEqual(["image", "ref", "dir", "format", "size"]);
        const b = await bootProvider.check({}, { ref: "x", accel: "hvf", timeoutSeconds: 5, probes: [] });
        expect(b.failures?.map((f) => f.property)).toEqual(["ref", "accel", "timeoutSeconds"]);
    });

    it("makes a qcow2 disk with a GPT root partition holding the image, kernel and initrd beside it", async () => {
        const inputs = (await diskProvider.check({}, { image: "base", ref: baseRef, dir: path.join(work, "disks"), storage })).inputs;
        expect(inputs).toMatchObject({ format: "qcow2", size: "2GiB" });
        const started = Date.now();
        const { id, outs } = await diskProvider.create(inputs);
        disk = outs as VmDiskOutputs;
        console.log(
            `VM disk made in ${Math.round((Date.now() - started) / 1000)}s: ${disk.fileSize} bytes (qcow2), kernel ${disk.kernel.size} bytes, initrd ${disk.initrd.size} bytes, kernel ${disk.kernelVersion}`,
        );
        expect(id).toBe(disk.path);
        expect(path.basename(disk.path)).toBe(`base-${baseRef.split("sha256:")[1].slice(0, 12)}.qcow2`);
        expect(disk.kernelVersion).toMatch(/^6\.1\.\d+-\d+-cloud-amd64$/);
        expect(disk.virtualSize).toBe(2 * 1024 ** 3);
        for (const f of [{ path: disk.path, sha256: disk.sha256 }, disk.kernel, disk.initrd, disk.manifest]) expect(await sha256File(f.path), f.path).toBe(f.sha256);
        const manifest = JSON.parse(await fs.readFile(disk.manifest.path, "utf8"));
        expect(manifest).toMatchObject({
            schemaVersion: 1,
            image: "base",
            ref: baseRef,
            format: "qcow2",
            kernelVersion: disk.kernelVersion,
            disk: { sha256: disk.sha256 },
            partition: { type: ROOT_X86_64_TYPE, filesystem: "ext4" },
        });

        // The raw disk: one GPT partition filling it, an ext4 root with the image's files.
        const raw = path.join(work, "base.raw");
        await run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", disk.path, raw]);
        const table = await readPartitionTable(raw);
        expect(table).toMatchObject({ start: 2048, name: "root", valid: true, partitions: 1 });
        const fsImage = path.join(work, "root.ext4");
        await run("dd", [`if=${raw}`, `of=${fsImage}`, "bs=1M", `skip=1`, "status=none"]);
        await run("e2fsck", ["-f", "-n", fsImage]);
        const release = (await run("debugfs", ["-R", "cat /etc/image-factory/release", fsImage])).stdout;
        expect(release).toContain("base 1.0.0");
        const sudo = (await run("debugfs", ["-R", "stat /usr/bin/sudo", fsImage])).stdout;
        expect(sudo).toMatch(/Mode:\s+04755/); // setuid survives mke2fs -d
        await fs.rm(raw);
        await fs.rm(fsImage);

        // Same digest, same disk: nothing to do. Another digest or format: a new disk.
        expect((await diskProvider.diff(id, disk, { ...inputs })).changes).toBe(false);
        // Another digest: the last hex digit changed (to "0", or to "1" when it already is "0").
        const otherRef = baseRef.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
        expect((await diskProvider.diff(id, disk, { ...inputs, ref: otherRef })).replaces).toEqual(["ref"]);
        expect((await diskProvider.read!(id, disk)).id).toBe(id);
    });

    it("boots to the default target with no failed unit, from the kernel and initrd beside the disk", async () => {
        const { outs } = await bootProvider.create(bootInputs("base", baseRef, disk));
        const result = (outs as BootTestOutputs).result;
        console.log(`base booted with ${result.accel} in ${result.seconds}s (guest uptime ${result.guestSeconds}s at the report)`);
        expect(result).toMatchObject({ targetReached: true, failedUnits: [], state: "running" });
        expect((outs as BootTestOutputs).digest).toBe(baseRef.split("@")[1]);
        const log = await fs.readFile(path.join(work, "base.boot.log"), "utf8");
        expect(log).toMatch(/Linux version 6\.1\.\S+-cloud-amd64/);
        expect(log).toContain("Serial Getty on ttyS0"); // a console login on the serial port
    });

    it("a unit that fails at boot fails the gate with the console's tail", async () => {
        // A child of the real base with a broken service, built as the pipeline builds children.
        const dir = await fs.mkdtemp(path.join(work, "catalog-"));
        const base = await fs.readFile(path.join(ROOT, "images/base.yaml"), "utf8");
        await fs.writeFile(path.join(dir, "base.yaml"), base);
        await fs.writeFile(path.join(dir, "broken.yaml"), BROKEN_IMAGE_YAML);
        const brokenRef = await buildCatalogImage(reg.address, dir, "broken", baseRef, "boot/broken");
        const { outs } = await diskProvider.create((await diskProvider.check({}, { image: "broken", ref: brokenRef, dir: path.join(work, "disks"), storage, format: "raw", size: "1GiB" })).inputs);
        const d = outs as VmDiskOutputs;
        expect(d.path.endsWith(".raw")).toBe(true);
        const err = await bootProvider.create(bootInputs("broken", brokenRef, d)).catch((e: Error) => e);
        expect(err).toBeInstanceOf(Error);
        const message = (err as Error).message;
        expect(message).toContain(`broken: boot test failed for ${brokenRef}: 1 unit(s) failed at boot: broken.service`);
        expect(message).toContain("nothing is released for it or its descendants");
        expect(message).toMatch(/Serial console \(last lines of .*broken\.boot\.log\):/);
        expect(message).toMatch(/broken\.service/); // systemctl status of the failed unit, from the console
        await diskProvider.delete(d.path, d);
        expect(await fs.stat(d.path).catch(() => undefined)).toBeUndefined();
        await buildah(storage, ["rmi", "-f", brokenRef]).catch(() => undefined);
    });
});
