// ContainerDisk against the real tools: a qcow2 disk (made by qemu-img) becomes a
// KubeVirt container disk pushed with skopeo to a real registry (docker-registry
// on loopback). The digest depends only on the disk's bytes (the same disk pushed
// again, under another version or to another repository, is the same digest);
// skopeo sees one layer, which GNU tar reads as disk/disk.qcow2 owned by 107:107
// holding the disk's exact bytes; a disk changed after its boot pushes nothing.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { sha256File } from "../../components/hash";
import { type ContainerDiskOutputs, provider, writeContainerDisk } from "../../components/images/container-disk.provider";
import { RegistryClient } from "../../components/registry/client";
import { testRegistry } from "../support/registry";

let reg: Awaited<ReturnType<typeof testRegistry>>;
let work: string;
let disk: { path: string; sha256: string };

beforeAll(async () => {
    reg = await testRegistry();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-container-disk-test-"));
    // A real qcow2 with data in it (its size is not a multiple of 512, so the tar pads).
    const raw = path.join(work, "disk.raw");
    await fs.writeFile(raw, Buffer.concat([randomBytes(3 * 1024 * 1024 + 77), Buffer.alloc(5 * 1024 * 1024)]));
    const qcow2 = path.join(work, "base-0123456789ab.qcow2");
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow2]);
    disk = { path: qcow2, sha256: await sha256File(qcow2) };
});

afterAll(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
});

const inputs = (extra: Record<string, unknown> = {}) => ({ image: "base", version: "1.0.0", registry: reg.address, repository: "hub/base-disk", format: "qcow2" as const, ...disk, ...extra });
const skopeo = async (...args: string[]) => JSON.parse((await run("skopeo", ["inspect", "--tls-verify=false", ...args])).stdout);

describe("ContainerDisk", () => {
    let pushed: ContainerDiskOutputs;

    it("check names each bad input", async () => {
        const r = await provider.check({}, { image: "Base!", version: "1 0", registry: "r", repository: "Hub/X", path: "rel.qcow2", format: "vmdk", sha256: "abc" });
        expect(r.failures?.map((f) => f.property)).toEqual(["image", "version", "repository", "path", "format", "sha256"]);
        expect((await provider.check({}, inputs())).failures).toEqual([]);
    });

    it("pushes the disk as a container disk: one layer with disk/disk.qcow2 (107:107), tagged with the version", async () => {
        const { id, outs } = await provider.create(inputs());
        pushed = outs as ContainerDiskOutputs;
        expect(id).toBe(`${reg.address}/hub/base-disk@${pushed.digest}`);
        expect(pushed.ref).toBe(id);
        const seen = await skopeo(`docker://${reg.address}/hub/base-disk:1.0.0`);
        expect(seen.Digest).toBe(pushed.digest);
        expect(seen.Layers).toEqual([pushed.layer.digest]);
        expect(seen).toMatchObject({ Architecture: "amd64", Os: "linux" });
        expect(seen.Created ?? undefined).toBeUndefined(); // no date in the config: nothing but the disk decides the digest
        const manifest = await skopeo("--raw", `docker://${pushed.ref}`);
        expect(manifest.layers).toEqual([{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: pushed.layer.digest, size: pushed.layer.size }]);

        // The layer, as GNU tar reads it: the disk's exact bytes under /disk, owned by the qemu user.
        const layer = path.join(work, "layer.tar");
        await fs.writeFile(layer, await new RegistryClient(reg.address).getBlob("hub/base-disk", pushed.layer.digest));
        const listing = (await run("tar", ["--numeric-owner", "-tvf", layer])).stdout.trim().split("\n");
        expect(listing).toHaveLength(2);
        expect(listing[0]).toMatch(/^dr-xr-xr-x 107\/107\s+0 1970-01-01 00:00 disk\/$/);
        expect(listing[1]).toMatch(new RegExp(`^-r--r----- 107/107\\s+${(await fs.stat(disk.path)).size} 1970-01-01 00:00 disk/disk\\.qcow2$`));
        const out = path.join(work, "extracted");
        await fs.mkdir(out);
        await run("tar", ["-xf", layer, "-C", out]);
        expect(await sha256File(path.join(out, "disk/disk.qcow2"))).toBe(disk.sha256);
        const info = JSON.parse((await run("qemu-img", ["info", "--output=json", path.join(out, "disk/disk.qcow2")])).stdout);
        expect(info.format).toBe("qcow2");
    });

    it("the digest depends only on the disk: the same disk again, under another version or elsewhere, is the same image", async () => {
        const a = path.join(work, "layout-a");
        const b = path.join(work, "layout-b");
        expect((await writeContainerDisk(a, inputs())).digest).toBe(pushed.digest);
        expect((await writeContainerDisk(b, inputs({ version: "2.0.0", image: "other" }))).digest).toBe(pushed.digest);
        // Pushed from scratch (the first push deleted) to another repository: the same digest.
        await provider.delete(pushed.ref, pushed);
        expect(await new RegistryClient(reg.address).resolve("hub/base-disk", pushed.digest)).toBeUndefined();
        expect((await provider.read!(pushed.ref, pushed)).id).toBe("");
        const again = (await provider.create(inputs({ repository: "other/base-disk" }))).outs as ContainerDiskOutputs;
        expect(again.digest).toBe(pushed.digest);
        pushed = (await provider.create(inputs())).outs as ContainerDiskOutputs;
        expect((await provider.read!(pushed.ref, pushed)).id).toBe(pushed.ref);
    });

    it("diff: the same disk is no change; a new version moves only the tag; another disk is a new container disk", async () => {
        expect((await provider.diff(pushed.ref, pushed, inputs())).changes).toBe(false);
        const other = { ...inputs(), sha256: "f".repeat(64) };
        expect((await provider.diff(pushed.ref, pushed, other)).replaces).toEqual(["sha256"]);
        const bumped = await provider.diff(pushed.ref, pushed, inputs({ version: "1.0.1" }));
        expect(bumped).toMatchObject({ changes: true, replaces: [] });
        const { outs } = await provider.update!(pushed.ref, pushed, inputs({ version: "1.0.1" }));
        expect(outs).toMatchObject({ digest: pushed.digest, version: "1.0.1" });
        expect(await new RegistryClient(reg.address).resolve("hub/base-disk", "1.0.1")).toBe(pushed.digest);
    });

    it("a disk changed after its boot pushes nothing and says so", async () => {
        const edited = path.join(work, "edited.qcow2");
        await fs.copyFile(disk.path, edited);
        await fs.appendFile(edited, Buffer.from("x"));
        const err = await provider.create(inputs({ path: edited, repository: "hub/edited-disk" })).catch((e: Error) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toContain(`base: the VM disk ${edited} changed since it was booted`);
        expect(await new RegistryClient(reg.address).listTags("hub/edited-disk")).toEqual([]);
    });
});
