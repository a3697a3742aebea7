// BootArtifacts against real tools, on what users get: the catalog's own base
// and edge-node (images/*.yaml) are built as the pipeline builds them and pushed
// to a test registry; the provider pulls edge-node by digest, extracts the kernel
// and initrd, builds the squashfs rootfs and uploads the set to a real S3 server.
// The manifest's checksums are checked against the objects read back, and the
// set boots in qemu from kernel + initrd + squashfs to its default target with
// no failed unit, judged as the pipeline's boot gate judges.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { provider, pickKernel, type BootArtifactsOutputs, type BootManifest } from "../../components/storage/boot-artifacts.provider";
import { s3Client } from "../../components/storage/s3";
import { headObject, verifyObject } from "../../components/storage/upload";
import type { RunningRegistry } from "../../scripts/services/registry";
import type { RunningS3 } from "../../scripts/services/s3";
import { bootTest } from "../../components/images/boot-test.provider";
import { buildCatalogImage } from "../support/catalog-image";
import { testRegistry } from "../support/registry";
import { testBucket, testS3 } from "../support/s3";

let s3: RunningS3;
let registry: RunningRegistry;
let ref: string;
let work: string;

beforeAll(async () => {
    registry = await testRegistry();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-boot-test-"));
    const catalog = path.resolve(__dirname, "../../images");
    const started = Date.now();
    const base = await buildCatalogImage(registry.address, catalog, "base", null);
    ref = await buildCatalogImage(registry.address, catalog, "edge-node", base);
    console.log(`catalog base and edge-node built in ${Math.round((Date.now() - started) / 1000)}s`);
    s3 = await testS3();
    await testBucket(s3, "boot-images");
}, 60 * 60_000); // two image builds with a kernel: tens of minutes on a busy 2-core machine

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
            image: "edge-node",
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
        expect(id).toBe(`s3://boot-images/edge-node/${digest}/`);
        expect(o.kernelVersion).toMatch(/^6\.1\.\d+-\d+-cloud-amd64$/); // base's kernel, inherited

        // The manifest, read back from S3, lists each object with its real size and sha256.
        const client = s3Client(s3.connection);
        const got = await client.send(new GetObjectCommand({ Bucket: "boot-images", Key: `edge-node/${digest}/manifest.json` }));
        const manifest = JSON.parse(await got.Body!.transformToString()) as BootManifest;
        client.destroy();
        expect(manifest).toMatchObject({ schemaVersion: 1, image: "edge-node", ref, digest, kernelVersion: o.kernelVersion, createdBy: "image-factory BootArtifacts" });
        expect(manifest.artifacts.map((a) => a.name)).toEqual(["kernel", "initrd", "rootfs"]);
        for (const a of manifest.artifacts) {
            const read = await verifyObject(s3.connection, "boot-images", `edge-node/${digest}/${a.name}`, a.sha256);
            expect(read.size, a.name).toBe(a.size);
            expect(o[a.name as "kernel"]).toMatchObject({ sha256: a.sha256, size: a.size, key: `edge-node/${digest}/${a.name}` });
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
        console.log(`kernel ${o.kernel.size} bytes, initrd ${o.initrd.size} bytes, squashfs rootfs ${o.rootfs.size} bytes`);

        // And the set boots as a network boot server boots it: the squashfs as a read-only
        // disk and root=<it>; the initrd mounts it under a writable overlay; systemd reaches
        // its default target with no failed unit (the boot gate's own judgement).
        const booted = await bootTest({
            image: "edge-node",
            ref,
            disk: { path: rootfs, format: "raw", sha256: o.rootfs.sha256 },
            kernel: path.join(work, "kernel"),
            initrd,
            kernelArgs: "root=/dev/vda console=ttyS0",
            probes: [],
            timeoutSeconds: 1200,
            memoryMiB: 1024,
            accel: "auto",
            serialLog: path.join(work, "edge-node.boot.log"),
        });
        console.log(`edge-node booted from its boot artifacts with ${booted.result.accel} in ${booted.result.seconds}s`);
        expect(booted.result).toMatchObject({ targetReached: true, failedUnits: [], state: "running" });
        const log = await fs.readFile(path.join(work, "edge-node.boot.log"), "utf8");
        expect(log).toContain("overlay-root: squashfs root with a writable tmpfs overlay");

        // Read sees the set; delete removes every object of it.
        expect((await provider.read!(id, o)).id).toBe(id);
        await provider.delete(id, o);
        for (const a of [o.kernel, o.initrd, o.rootfs, o.manifest]) expect(await headObject(s3.connection, "boot-images", a.key)).toBeUndefined();
        expect(await provider.read!(id, o)).toEqual({ id: "", props: {} });
    }, 45 * 60_000); // a squashfs of the image and a boot under TCG on a busy machine

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
