// BootArtifacts against real tools: a Debian image with a kernel is built and
// pushed to a test registry, then the provider pulls it by digest, extracts the
// kernel and initrd, builds the squashfs rootfs and uploads the set to a real S3
// server. The manifest's checksums are checked against the objects read back.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { provider, pickKernel, type BootArtifactsOutputs, type BootManifest } from "../../components/storage/boot-artifacts.provider";
import { provider as bucketProvider } from "../../components/storage/s3-bucket.provider";
import { s3Client } from "../../components/storage/s3";
import { headObject, verifyObject } from "../../components/storage/upload";
import type { RunningRegistry } from "../../scripts/services/registry";
import type { RunningS3 } from "../../scripts/services/s3";
import { pushBootableImage } from "../support/bootable-image";
import { testRegistry } from "../support/registry";
import { testS3 } from "../support/s3";

let s3: RunningS3;
let registry: RunningRegistry;
let ref: string;
let work: string;

beforeAll(async () => {
    [s3, registry] = await Promise.all([testS3(), testRegistry()]);
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-boot-test-"));
    ref = await pushBootableImage(registry.address, "demo/bootable");
    await bucketProvider.create({
        name: "boot-images",
        s3: { endpoint: s3.endpoint, region: "us-east-1", pathStyle: true },
        credentials: { accessKeyId: s3.connection.accessKeyId, secretAccessKey: s3.connection.secretAccessKey },
        noncurrentVersionDays: 30,
        forceDestroy: true,
    });
});

afterAll(async () => {
    await Promise.all([s3?.stop(), registry?.stop()]);
    if (work) await fs.rm(work, { recursive: true, force: true });
});

describe("pickKernel", () => {
    it("takes the newest kernel that has an initrd", () => {
        expect(pickKernel(["config-6.1.0-9-amd64", "vmlinuz-6.1.0-9-amd64", "initrd.img-6.1.0-9-amd64", "vmlinuz-6.1.0-10-amd64", "initrd.img-6.1.0-10-amd64", "vmlinuz-6.5.0-1-amd64"])).toBe("6.1.0-10-amd64");
        expect(pickKernel(["System.map"])).toBeUndefined();
    });
});

describe("BootArtifacts", () => {
    it("check wants a ref by digest and a valid image name", async () => {
        const r = await provider.check({}, { image: "Edge Base", ref: "127.0.0.1:5000/demo/bootable:1.0.0", compression: "bzip9" });
        expect(r.failures?.map((f) => f.property)).toEqual(["image", "ref", "compression"]);
        expect(r.failures?.[1].reason).toMatch(/must be pinned by digest/);
    });

    it("publishes kernel, initrd, squashfs rootfs and a manifest whose checksums match the objects", async () => {
        const inputs = {
            image: "bootable",
            ref,
            bucket: "boot-images",
            s3: { endpoint: s3.endpoint, region: "us-east-1", pathStyle: true },
            credentials: { accessKeyId: s3.connection.accessKeyId, secretAccessKey: s3.connection.secretAccessKey },
        };
        expect((await provider.check({}, inputs)).failures).toEqual([]);
        const started = Date.now();
        const { id, outs } = await provider.create(inputs);
        console.log(`boot artifact set built and uploaded in ${((Date.now() - started) / 1000).toFixed(0)}s`);
        const o = outs as BootArtifactsOutputs;
        const digest = ref.split("@")[1];
        expect(id).toBe(`s3://boot-images/bootable/${digest}/`);
        expect(o.kernelVersion).toMatch(/^6\.1\.\d+-\d+-amd64$/);

        // The manifest, read back from S3, lists each object with its real size and sha256.
        const client = s3Client(s3.connection);
        const got = await client.send(new GetObjectCommand({ Bucket: "boot-images", Key: `bootable/${digest}/manifest.json` }));
        const manifest = JSON.parse(await got.Body!.transformToString()) as BootManifest;
        client.destroy();
        expect(manifest).toMatchObject({ schemaVersion: 1, image: "bootable", ref, digest, kernelVersion: o.kernelVersion, createdBy: "image-factory BootArtifacts" });
        expect(manifest.artifacts.map((a) => a.name)).toEqual(["kernel", "initrd", "rootfs"]);
        for (const a of manifest.artifacts) {
            const read = await verifyObject(s3.connection, "boot-images", `bootable/${digest}/${a.name}`, a.sha256);
            expect(read.size, a.name).toBe(a.size);
            expect(o[a.name as "kernel"]).toMatchObject({ sha256: a.sha256, size: a.size, key: `bootable/${digest}/${a.name}` });
        }

        // They are what they claim to be: a bzImage kernel, an initramfs, a squashfs with the image's files.
        const fetchTo = async (name: "kernel" | "initrd" | "rootfs") => {
            const file = path.join(work, name);
            const c = s3Client(s3.connection);
            const obj = await c.send(new GetObjectCommand({ Bucket: "boot-images", Key: o[name].key }));
            await fs.writeFile(file, await obj.Body!.transformToByteArray());
            c.destroy();
            return file;
        };
        const kernel = await fs.readFile(await fetchTo("kernel"));
        expect(kernel.subarray(0x202, 0x206).toString("latin1")).toBe("HdrS"); // x86 boot protocol header
        const rootfs = await fetchTo("rootfs");
        expect((await fs.readFile(rootfs)).subarray(0, 4).toString("latin1")).toBe("hsqs");
        const listing = (await run("unsquashfs", ["-l", "-no-progress", rootfs])).stdout;
        expect(listing).toMatch(/squashfs-root\/usr\/bin\/apt\n/);
        expect(listing).toMatch(new RegExp(`squashfs-root/usr/lib/modules/${o.kernelVersion.replace(/\./g, "\\.")}/`));
        expect(listing).not.toMatch(/squashfs-root\/boot\/vmlinuz/);
        const initrd = await fetchTo("initrd");

        // And the set boots: the kernel and initrd mount the squashfs as root and run a program from it.
        const boot = await run(
            "qemu-system-x86_64",
            ["-accel", "tcg", "-m", "1024", "-smp", "1", "-nographic", "-no-reboot", "-kernel", path.join(work, "kernel"), "-initrd", initrd,
                "-drive", `file=${rootfs},format=raw,if=virtio,readonly=on`,
                "-append", "console=ttyS0 root=/dev/vda rootfstype=squashfs ro quiet panic=-1 init=/usr/bin/cat -- /etc/debian_version /proc/version"],
            { timeoutMs: 5 * 60_000 },
        );
        expect(boot.stdout).toMatch(/^(\S*)12\.\d+\r?$/m); // /etc/debian_version of the squashfs
        expect(boot.stdout).toContain(`Linux version ${o.kernelVersion} `);

        // Read sees the set; delete removes every object of it.
        expect((await provider.read!(id, o)).id).toBe(id);
        await provider.delete(id, o);
        for (const a of [o.kernel, o.initrd, o.rootfs, o.manifest]) expect(await headObject(s3.connection, "boot-images", a.key)).toBeUndefined();
        expect(await provider.read!(id, o)).toEqual({ id: "", props: {} });
    });

    it("an image without a kernel fails with a message naming the image", async () => {
        // The registry's own config blob is no image; use a tiny image without /boot instead.
        const dir = await fs.mkdtemp(path.join(work, "tiny-"));
        await fs.writeFile(path.join(dir, "Containerfile"), "FROM scratch\nCOPY hello /hello\n");
        await fs.writeFile(path.join(dir, "hello"), "hi\n");
        const b = (args: string[]) => run("buildah", ["--root", path.join(dir, "root"), "--runroot", path.join(dir, "run"), "--storage-driver", "vfs", ...args]);
        await b(["build", "--isolation", "chroot", "-t", "tiny", "-f", path.join(dir, "Containerfile"), dir]);
        await b(["push", "--tls-verify=false", "--digestfile", path.join(dir, "digest"), "tiny", `docker://${registry.address}/demo/tiny:1`]);
        const tinyRef = `${registry.address}/demo/tiny@${(await fs.readFile(path.join(dir, "digest"), "utf8")).trim()}`;
        await b(["rmi", "--all", "--force"]);
        await expect(
            provider.create({
                image: "tiny",
                ref: tinyRef,
                bucket: "boot-images",
                s3: { endpoint: s3.endpoint, region: "us-east-1", pathStyle: true },
                credentials: { accessKeyId: s3.connection.accessKeyId, secretAccessKey: s3.connection.secretAccessKey },
            }),
        ).rejects.toThrow(`image ${tinyRef} has no kernel with an initrd in /boot`);
    });
});
