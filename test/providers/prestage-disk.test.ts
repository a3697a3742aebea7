// The PreStagedDisk provider against the real tools: skopeo, mkfs.xfs,
// mke2fs, sgdisk, qemu-img and a registry on loopback. Each disk is read back
// (partition table, filesystem, archives) and its load script is run against
// a scratch container storage.
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run } from "../../components/exec";
import { sha256File } from "../../components/hash";
import { readPartitionTable } from "../../components/prestage/build";
import { provider } from "../../components/prestage/disk.provider";
import { RegistryClient } from "../../components/registry/client";
import { generateSigningKey, KEY_MISMATCH } from "../../components/supply-chain/sigstore";
import { freePort } from "../../scripts/services/registry";
import { pushImage, pushIndex, type PushedImage } from "../support/images";
import { testRegistry } from "../support/registry";

type Reg = Awaited<ReturnType<typeof testRegistry>>;

const fleet = generateSigningKey();
const other = generateSigningKey();

/** `openssl dgst -sha256 -verify` as a reader of the docs runs it: the public key from the outputs, the signature, the manifest. */
async function opensslVerifies(publicKeyFile: string, signature: string, manifest: string): Promise<boolean> {
    try {
        const r = await run("openssl", ["dgst", "-sha256", "-verify", publicKeyFile, "-signature", signature, manifest]);
        return r.stdout.trim() === "Verified OK";
    } catch (e) {
        if (/Verification failure/.test((e as Error).message)) return false;
        throw e;
    }
}

/** Mounts the partition of a raw disk read-only (loop, at its offset) for the duration of `fn`. */
async function withPartitionMounted<T>(disk: string, offset: number, size: number, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-mnt-"));
    await run("mount", ["-o", `ro,loop,offset=${offset},sizelimit=${size}`, disk, dir]);
    try {
        return await fn(dir);
    } finally {
        await run("umount", [dir]);
        await fs.rmdir(dir);
    }
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
    const out: string[] = [];
    for (const e of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
        const rel = prefix ? `${prefix}/${e.name}` : e.name;
        if (e.isDirectory()) out.push(...(await listTree(dir, rel)));
        else out.push(rel);
    }
    return out.sort();
}

describe("PreStagedDisk provider", () => {
    let reg: Reg;
    let work: string;
    let httpd: PushedImage;
    let homepage: PushedImage;
    let database: PushedImage;

    const inputs = (over: Record<string, unknown> = {}) => ({
        path: path.join(work, "out", "site.raw"),
        diskSize: "1GiB",
        format: "raw",
        label: "data",
        filesystem: "xfs",
        headroomPercent: 10,
        mountPoint: "/var/mnt/prestage",
        contentSets: { "ai-images": [httpd.ref, homepage.ref], "ocp-images": [database.tagged] },
        extraFiles: [{ path: "README.txt", content: "pre-staged by image-factory\n" }],
        ...over,
    });
    const checked = async (over: Record<string, unknown> = {}) => {
        const r = await provider.check!({}, inputs(over));
        expect(r.failures).toEqual([]);
        return r.inputs!;
    };

    beforeAll(async () => {
        reg = await testRegistry();
        work = await fs.mkdtemp(path.join(os.tmpdir(), "if-prestage-"));
        httpd = await pushImage(reg.address, "demo/httpd", "1.0", { "srv/index.html": "hello from httpd\n" }, 2 * 1024 * 1024);
        homepage = await pushImage(reg.address, "demo/homepage", "1.0", { "srv/home.html": "home\n" });
        database = await pushImage(reg.address, "demo/database", "2.1", { "etc/db.conf": "port=5432\n" }, 1024 * 1024);
    });
    afterAll(async () => {
        await reg?.stop();
        if (work) await fs.rm(work, { recursive: true, force: true });
    });

    describe("an xfs raw disk, signed with the fleet key", () => {
        let outs: Record<string, any>;
        let storage: string;
        let fleetPub: string;
        const signedInputs = () => checked({ signingKey: fleet.privateKey, publicKey: fleet.publicKey });

        beforeAll(async () => {
            fleetPub = path.join(work, "fleet.pub");
            await fs.writeFile(fleetPub, fleet.publicKey);
            const created = await provider.create(await signedInputs());
            outs = created.outs;
            expect(created.id).toBe(path.join(work, "out", "site.raw"));
            storage = await fs.mkdtemp(path.join(os.tmpdir(), "if-storage-"));
        });
        afterAll(async () => {
            if (storage) await fs.rm(storage, { recursive: true, force: true });
        });

        it("has one GPT partition, last on the disk, 1 MiB aligned, with its label", async () => {
            const table = await readPartitionTable(outs.path);
            expect(table.partitions).toBe(1);
            expect(table.valid).toBe(true);
            expect(table.name).toBe("data");
            expect(table.start % 2048).toBe(0);
            expect(table.end).toBe(table.lastUsable);
            expect(outs.partition).toMatchObject({ start: table.start, end: table.end, label: "data", filesystem: "xfs", offsetBytes: table.start * 512 });
        });

        it("reports the artifact truthfully: sha256, size, sparse allocation", async () => {
            expect(outs.sha256).toBe(await sha256File(outs.path));
            const st = await fs.stat(outs.path);
            expect(outs.size).toBe(1024 ** 3);
            expect(st.size).toBe(outs.size);
            expect(outs.allocatedSize).toBe(st.blocks * 512);
            // Content is ~3 MiB; all but a few MiB of XFS metadata is holes (the 64 MiB log too).
            expect(outs.allocatedSize).toBeLessThan(outs.contentBytes + 8 * 1024 * 1024);
            // Nothing but the artifact and its signed manifest in its folder: the temp folder is gone.
            expect(await fs.readdir(path.dirname(outs.path))).toEqual(["site.raw", "site.raw.manifest.json", "site.raw.manifest.json.sig"]);
        });

        it("the filesystem holds every archive, the tooling and the manifest; each archive has the registry's digest", async () => {
            const client = new RegistryClient(reg.address);
            await withPartitionMounted(outs.path, outs.partition.offsetBytes, outs.partition.sizeBytes, async (mnt) => {
                const tree = await listTree(mnt);
                expect(tree).toEqual(
                    [
                        ...outs.manifest.map((m: any) => m.archive),
                        "README.txt",
                        "images.list",
                        "manifest.json",
                        "manifest.json.sig",
                        "prestage-load.sh",
                        "prestage.ign",
                        "systemd/prestage-load.service",
                        "systemd/var-mnt-prestage.mount",
                    ].sort(),
                );
                expect(outs.manifest.map((m: any) => m.contentSet)).toEqual(["ai-images", "ai-images", "ocp-images"]);
                for (const m of outs.manifest) {
                    const file = path.join(mnt, m.archive);
                    expect(await sha256File(file)).toBe(m.archiveSha256);
                    const index = JSON.parse((await run("tar", ["-xOf", file, "index.json"])).stdout);
                    const [registry, rest] = [reg.address, m.ref.slice(reg.address.length + 1)];
                    expect(registry).toBe(m.ref.split("/")[0]);
                    expect(index.manifests[0].digest).toBe(await client.resolve(rest.split("@")[0], m.digest));
                    expect(m.digest).toBe(m.ref.split("@")[1]);
                }
                expect(outs.manifest.map((m: any) => m.digest)).toEqual([httpd.digest, homepage.digest, database.digest]);
                const onDisk = JSON.parse(await fs.readFile(path.join(mnt, "manifest.json"), "utf8"));
                expect(onDisk.images).toEqual(outs.manifest);
                expect(await fs.readFile(path.join(mnt, "README.txt"), "utf8")).toBe("pre-staged by image-factory\n");
                expect(JSON.parse(await fs.readFile(path.join(mnt, "prestage.ign"), "utf8"))).toEqual(JSON.parse(outs.ignition));
            });
            await run("xfs_repair", ["-n", "-f", outs.path], { okCodes: [0, 1] }); // smoke: the tool reads the disk file
        });

        it("its manifest is signed: openssl verifies it with the public key, on the partition and beside the disk; a tampered manifest does not verify", async () => {
            const sig = outs.manifestSignature;
            expect(sig).toMatchObject({ path: `${outs.path}.manifest.json.sig`, manifestPath: `${outs.path}.manifest.json` });
            expect(sig.keyFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
            expect(await sha256File(sig.manifestPath)).toBe(sig.manifestSha256);
            expect(await opensslVerifies(fleetPub, sig.path, sig.manifestPath)).toBe(true);
            await withPartitionMounted(outs.path, outs.partition.offsetBytes, outs.partition.sizeBytes, async (mnt) => {
                // The partition's copies are the same bytes.
                expect(await fs.readFile(path.join(mnt, "manifest.json"))).toEqual(await fs.readFile(sig.manifestPath));
                expect(await opensslVerifies(fleetPub, path.join(mnt, "manifest.json.sig"), path.join(mnt, "manifest.json"))).toBe(true);
            });
            const tampered = path.join(work, "tampered.json");
            const manifest = await fs.readFile(sig.manifestPath, "utf8");
            await fs.writeFile(tampered, manifest.replace(outs.manifest[0].digest, database.digest));
            expect(await opensslVerifies(fleetPub, sig.path, tampered)).toBe(false);
            const otherPub = path.join(work, "other.pub");
            await fs.writeFile(otherPub, other.publicKey);
            expect(await opensslVerifies(otherPub, sig.path, sig.manifestPath)).toBe(false);
        });

        it("the load script refuses the disk, loading nothing, with another fleet's key, a list the signed manifest does not name, or no signature", async () => {
            const env = { PRESTAGE_STORAGE: `containers-storage:[vfs@${storage}/root+${storage}/runroot]` };
            const otherPub = path.join(work, "other.pub");
            await fs.writeFile(otherPub, other.publicKey);
            await withPartitionMounted(outs.path, outs.partition.offsetBytes, outs.partition.sizeBytes, async (mnt) => {
                await expect(run("sh", [path.join(mnt, "prestage-load.sh")], { env: { ...env, PRESTAGE_KEY: otherPub } })).rejects.toThrow(
                    /REFUSED: .*manifest\.json's signature does not verify with .*other\.pub; nothing loaded/,
                );
                // A copy of the partition's root whose images.list loads one more tag than the signed manifest names.
                const copy = path.join(work, "edited");
                await fs.mkdir(copy, { recursive: true });
                for (const f of ["prestage-load.sh", "manifest.json", "manifest.json.sig", "images.list"]) await fs.copyFile(path.join(mnt, f), path.join(copy, f));
                const list = await fs.readFile(path.join(copy, "images.list"), "utf8");
                await fs.writeFile(path.join(copy, "images.list"), list.replace(httpd.ref, `${httpd.ref} ${reg.address}/demo/homepage:1.0`));
                await expect(run("sh", [path.join(copy, "prestage-load.sh")], { env: { ...env, PRESTAGE_KEY: fleetPub } })).rejects.toThrow(
                    /REFUSED: .*images\.list is not the list the signed manifest names; nothing loaded/,
                );
                // The same copy with its signature removed: a node with the fleet key loads only signed disks.
                await fs.rm(path.join(copy, "manifest.json.sig"));
                await expect(run("sh", [path.join(copy, "prestage-load.sh")], { env: { ...env, PRESTAGE_KEY: fleetPub } })).rejects.toThrow(
                    /REFUSED: the disk has no signed manifest, and this node loads only disks its fleet key \(.*fleet\.pub\) signed; nothing loaded/,
                );
            });
            // Nothing reached the storage.
            await expect(run("skopeo", ["inspect", "--raw", `${env.PRESTAGE_STORAGE}${httpd.ref}`])).rejects.toThrow();
        });

        it("the load script verifies the manifest with the node's key, loads every image into a scratch storage, logs it, and a second run loads nothing", async () => {
            const env = { PRESTAGE_STORAGE: `containers-storage:[vfs@${storage}/root+${storage}/runroot]`, PRESTAGE_KEY: fleetPub };
            await withPartitionMounted(outs.path, outs.partition.offsetBytes, outs.partition.sizeBytes, async (mnt) => {
                const first = await run("sh", [path.join(mnt, "prestage-load.sh")], { env });
                expect(first.stdout).toContain(`prestage-load: manifest signature verified with ${fleetPub}`);
                for (const m of outs.manifest) {
                    expect(first.stdout).toContain(`prestage-load: loaded ${m.ref} from ${m.archive}`);
                    expect(first.stdout).toContain(`prestage-load: in storage ${m.ref} ${m.digest}`);
                }
                expect(first.stdout).toContain(`prestage-load: tagged ${database.tagged}`);
                expect(first.stdout).toMatch(/prestage-load: 3 loaded, 0 already present, 0 failed/);

                for (const ref of [httpd.ref, homepage.ref, database.ref]) {
                    const raw = await run("skopeo", ["inspect", "--raw", `${env.PRESTAGE_STORAGE}${ref}`], { binaryStdout: true });
                    expect(`sha256:${(await import("node:crypto")).createHash("sha256").update(raw.stdoutBytes!).digest("hex")}`).toBe(ref.split("@")[1]);
                }
                const tagged = await run("skopeo", ["inspect", "--format", "{{.Digest}}", `${env.PRESTAGE_STORAGE}${database.tagged}`]);
                expect(tagged.stdout.trim()).toBe(database.digest);

                const second = await run("sh", [path.join(mnt, "prestage-load.sh")], { env });
                expect(second.stdout).not.toMatch(/prestage-load: (loaded|tagged) /);
                expect(second.stdout).toMatch(/prestage-load: 0 loaded, 3 already present, 0 failed/);
            });
        });

        it("unchanged content → no change; a new image digest → rebuild in place, signed again; a new key → rebuild; a new path → replace", async () => {
            const same = await signedInputs();
            expect(await provider.diff!(outs.path, outs, same)).toMatchObject({ changes: false, replaces: [] });
            expect(await provider.diff!(outs.path, outs, { ...same, signingKey: other.privateKey, publicKey: other.publicKey })).toMatchObject({ changes: true, replaces: [] });
            const moved = await pushImage(reg.address, "demo/database", "2.1", { "etc/db.conf": "port=5433\n" });
            const news = await signedInputs();
            expect(news.contentSets["ocp-images"]).toEqual([`${database.tagged}@${moved.digest}`]);
            expect(await provider.diff!(outs.path, outs, news)).toMatchObject({ changes: true, replaces: [] });
            expect((await provider.diff!(outs.path, outs, { ...same, path: path.join(work, "other.raw") })).replaces).toEqual(["path"]);

            const updated = await provider.update!(outs.path, outs, news);
            expect(updated.outs!.manifest[2].digest).toBe(moved.digest);
            expect(updated.outs!.sha256).toBe(await sha256File(outs.path));
            expect(updated.outs!.sha256).not.toBe(outs.sha256);
            expect(await fs.readdir(path.dirname(outs.path))).toEqual(["site.raw", "site.raw.manifest.json", "site.raw.manifest.json.sig"]);
            // The new manifest names the new digest and its new signature verifies.
            const sig = updated.outs!.manifestSignature;
            expect(sig.manifestSha256).not.toBe(outs.manifestSignature.manifestSha256);
            expect(await fs.readFile(sig.manifestPath, "utf8")).toContain(moved.digest);
            expect(await opensslVerifies(fleetPub, sig.path, sig.manifestPath)).toBe(true);
            outs = updated.outs!;
        });

        it("read sees the file; delete removes it, its signed manifest (and a killed build's leftovers); read then reports it gone", async () => {
            const seen = await provider.read!(outs.path, outs);
            expect(seen.id).toBe(outs.path);
            expect(seen.props!.sha256).toBe(await sha256File(outs.path));
            // A build killed mid-way left its temp folder: delete takes it too.
            await fs.mkdir(path.join(path.dirname(outs.path), ".site.raw.4242-dead.tmp"));
            await provider.delete(outs.path, outs);
            expect(existsSync(outs.path)).toBe(false);
            expect(await fs.readdir(path.dirname(outs.path))).toEqual([]);
            expect((await provider.read!(outs.path, outs)).id).toBe("");
        });
    });

    it("an ext4 qcow2 disk holds the same layout; without a signing key nothing is signed", async () => {
        const target = path.join(work, "q", "site.qcow2");
        const { outs } = await provider.create(await checked({ path: target, format: "qcow2", filesystem: "ext4", diskSize: "256MiB" }));
        expect(outs.manifestSignature).toBeNull();
        expect(await fs.readdir(path.join(work, "q"))).toEqual(["site.qcow2"]);
        const info = JSON.parse((await run("qemu-img", ["info", "--output=json", target])).stdout);
        expect(info.format).toBe("qcow2");
        expect(info["virtual-size"]).toBe(256 * 1024 * 1024);
        expect(outs.allocatedSize).toBeLessThan(16 * 1024 * 1024);
        const raw = path.join(work, "q", "back.raw");
        await run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", target, raw]);
        const table = await readPartitionTable(raw);
        expect(table).toMatchObject({ partitions: 1, valid: true, name: "data", end: table.lastUsable });
        expect(table.start % 2048).toBe(0);
        await withPartitionMounted(raw, outs.partition.offsetBytes, outs.partition.sizeBytes, async (mnt) => {
            for (const m of outs.manifest) expect(await sha256File(path.join(mnt, m.archive))).toBe(m.archiveSha256);
            expect(existsSync(path.join(mnt, "manifest.json"))).toBe(true);
            expect(existsSync(path.join(mnt, "manifest.json.sig"))).toBe(false);
        });
        await provider.delete(target, outs);
    });

    it("a multi-platform index is archived whole (same digest) and loads idempotently", async () => {
        const amd = await pushImage(reg.address, "demo/multi", "amd64", { "etc/arch": "amd64\n" });
        const arm = await pushImage(reg.address, "demo/multi", "arm64", { "etc/arch": "arm64\n" });
        const index = await pushIndex(reg.address, "demo/multi", "1.0", [
            { image: amd, architecture: "amd64" },
            { image: arm, architecture: "arm64" },
        ]);
        const target = path.join(work, "multi", "m.raw");
        const { outs } = await provider.create(await checked({ path: target, filesystem: "ext4", diskSize: "128MiB", contentSets: { multi: [index.ref] } }));
        expect(outs.manifest).toMatchObject([{ digest: index.digest, mediaType: "application/vnd.oci.image.index.v1+json" }]);
        const storage = await fs.mkdtemp(path.join(os.tmpdir(), "if-storage-"));
        const env = { PRESTAGE_STORAGE: `containers-storage:[vfs@${storage}/root+${storage}/runroot]` };
        try {
            await withPartitionMounted(target, outs.partition.offsetBytes, outs.partition.sizeBytes, async (mnt) => {
                const index_ = JSON.parse((await run("tar", ["-xOf", path.join(mnt, outs.manifest[0].archive), "index.json"])).stdout);
                expect(index_.manifests[0].digest).toBe(index.digest);
                expect((await run("sh", [path.join(mnt, "prestage-load.sh")], { env })).stdout).toMatch(/1 loaded, 0 already present, 0 failed/);
                expect((await run("sh", [path.join(mnt, "prestage-load.sh")], { env })).stdout).toMatch(/0 loaded, 1 already present, 0 failed/);
            });
        } finally {
            await fs.rm(storage, { recursive: true, force: true });
            await provider.delete(target, outs);
        }
    });

    describe("clear errors, nothing written", () => {
        const assertNothingWritten = async (dir: string) => expect(existsSync(dir) ? await fs.readdir(dir) : []).toEqual([]);

        it("a disk too small for the content", async () => {
            const big = await pushImage(reg.address, "demo/big", "1", {}, 40 * 1024 * 1024);
            const dir = path.join(work, "small");
            await expect(
                provider.create(await checked({ path: path.join(dir, "d.raw"), diskSize: "48MiB", filesystem: "ext4", contentSets: { x: [big.ref] } })),
            ).rejects.toThrow(/the content does not fit the disk: 40\.\d MiB of files with 10% headroom needs a [\d.]+ MiB ext4 partition, but a 48\.0 MiB disk has room for 47\.\d MiB/);
            await assertNothingWritten(dir);
        });

        it("a missing image is named", async () => {
            const dir = path.join(work, "missing");
            const ghost = `${reg.address}/demo/ghost@sha256:${"0".repeat(64)}`;
            await expect(provider.create(await checked({ path: path.join(dir, "d.raw"), contentSets: { x: [httpd.ref, ghost] } }))).rejects.toThrow(
                `image ${ghost} (content set x) does not exist in registry ${reg.address}`,
            );
            await assertNothingWritten(dir);
            const r = await provider.check!({}, inputs({ contentSets: { x: [`${reg.address}/demo/ghost:1.0`] } }));
            expect(r.failures).toEqual([{ property: "contentSets.x[0]", reason: `image ${reg.address}/demo/ghost:1.0 does not exist in registry ${reg.address}` }]);
        });

        it("a registry that is down is named", async () => {
            const down = `127.0.0.1:${await freePort()}`;
            const dir = path.join(work, "down");
            await expect(
                provider.create(await checked({ path: path.join(dir, "d.raw"), contentSets: { x: [`${down}/demo/httpd@${httpd.digest}`] } })),
            ).rejects.toThrow(new RegExp(`registry ${down.replace(/\./g, "\\.")} is not reachable \\(ECONNREFUSED\\)`));
            await assertNothingWritten(dir);
            const r = await provider.check!({}, inputs({ contentSets: { x: [`${down}/demo/httpd:1.0`] } }));
            expect(r.failures![0].reason).toMatch(new RegExp(`registry ${down.replace(/\./g, "\\.")} is not reachable`));
        });

        it("bad inputs name their key", async () => {
            const r = await provider.check!(
                {},
                inputs({
                    path: "relative.raw",
                    diskSize: "8 parsecs",
                    format: "vmdk",
                    filesystem: "btrfs",
                    label: "a label that is far too long",
                    contentSets: { "images.list": [httpd.ref], ok: ["not a ref"] },
                    extraFiles: [{ path: "../escape", content: "x" }, { path: "a.txt" }, { path: "b.bin", source: "/nonexistent/file" }],
                }),
            );
            expect(r.failures!.map((f) => f.property).sort()).toEqual(
                ["contentSets.images.list", "contentSets.ok[0]", "diskSize", "extraFiles[0].path", "extraFiles[1]", "extraFiles[2].source", "filesystem", "format", "label", "path"].sort(),
            );
            expect(r.failures!.find((f) => f.property === "extraFiles[2].source")!.reason).toBe("cannot read /nonexistent/file: ENOENT");
        });

        it("a signing key that is not the public key's private half, or comes without it", async () => {
            expect((await provider.check!({}, inputs({ signingKey: other.privateKey, publicKey: fleet.publicKey }))).failures).toEqual([{ property: "signingKey", reason: KEY_MISMATCH }]);
            expect((await provider.check!({}, inputs({ signingKey: fleet.privateKey }))).failures!.map((f) => f.property)).toEqual(["publicKey"]);
            const dir = path.join(work, "badkey");
            await expect(provider.create(await checked({ path: path.join(dir, "d.raw") }).then((i) => ({ ...i, signingKey: other.privateKey, publicKey: fleet.publicKey })))).rejects.toThrow(KEY_MISMATCH);
            await assertNothingWritten(dir);
        });

        it("a failure after the archives were fetched leaves nothing behind", async () => {
            const dir = path.join(work, "late");
            const source = path.join(work, "extra.bin");
            await fs.writeFile(source, "extra");
            const news = await checked({ path: path.join(dir, "d.raw"), extraFiles: [{ path: "extra.bin", source }] });
            // Replaced by a folder between preview and up: found at the start, unreadable when staged after the fetch.
            await fs.rm(source);
            await fs.mkdir(source);
            const logged: string[] = [];
            const spy = vi.spyOn(console, "log").mockImplementation((l: string) => void logged.push(l));
            try {
                await expect(provider.create(news)).rejects.toThrow(/EISDIR/);
            } finally {
                spy.mockRestore();
            }
            expect(logged.filter((l) => l.startsWith("prestage: archived "))).toHaveLength(3);
            await assertNothingWritten(dir);
        });

        it("an interrupted build's leftovers are swept by the next build", async () => {
            const dir = path.join(work, "sweep");
            await fs.mkdir(path.join(dir, ".d.raw.999-dead.tmp", "stage"), { recursive: true });
            const { outs } = await provider.create(await checked({ path: path.join(dir, "d.raw"), filesystem: "ext4", diskSize: "128MiB" }));
            expect(await fs.readdir(dir)).toEqual(["d.raw"]);
            await provider.delete(outs.path, outs);
        });
    });
});
