// The signed manifest of a boot artifact set, against a real registry, buildah,
// mksquashfs and a real S3 server, on a tiny image (a /boot with a placeholder
// kernel and initrd: the provider copies them, it does not boot them) so that no
// catalog image is built. The set's manifest.json.sig is checked as the docs tell
// a reader to check it: `openssl dgst -sha256 -verify <signing.publicKey>`.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { type BootArtifactsOutputs, provider } from "../../components/storage/boot-artifacts.provider";
import { headObject, readObject } from "../../components/storage/upload";
import { generateSigningKey, KEY_MISMATCH } from "../../components/supply-chain/sigstore";
import type { RunningRegistry } from "../../scripts/services/registry";
import type { RunningS3 } from "../../scripts/services/s3";
import { testRegistry } from "../support/registry";
import { testBucket, testS3 } from "../support/s3";

const fleet = generateSigningKey();
const other = generateSigningKey();

let s3: RunningS3;
let registry: RunningRegistry;
let work: string;
let ref: string;

/** A scratch image whose /boot has vmlinuz-<v> and initrd.img-<v>, pushed by digest. */
async function pushTinyBootable(dir: string): Promise<string> {
    await fs.mkdir(path.join(dir, "ctx", "boot"), { recursive: true });
    await fs.writeFile(path.join(dir, "ctx", "boot", "vmlinuz-6.1.0-0-test"), "not a kernel\n");
    await fs.writeFile(path.join(dir, "ctx", "boot", "initrd.img-6.1.0-0-test"), "not an initrd\n");
    await fs.writeFile(path.join(dir, "ctx", "hello"), "hi\n");
    await fs.writeFile(path.join(dir, "Containerfile"), "FROM scratch\nCOPY boot /boot\nCOPY hello /hello\n");
    const b = (args: string[]) => run("buildah", ["--root", path.join(dir, "root"), "--runroot", path.join(dir, "run"), "--storage-driver", "vfs", ...args]);
    await b(["build", "--isolation", "chroot", "-t", "tiny-boot", "-f", path.join(dir, "Containerfile"), path.join(dir, "ctx")]);
    await b(["push", "--tls-verify=false", "--digestfile", path.join(dir, "digest"), "tiny-boot", `docker://${registry.address}/demo/tiny-boot:1`]);
    await b(["rmi", "--all", "--force"]);
    return `${registry.address}/demo/tiny-boot@${(await fs.readFile(path.join(dir, "digest"), "utf8")).trim()}`;
}

beforeAll(async () => {
    registry = await testRegistry();
    s3 = await testS3();
    work = await fs.mkdtemp(path.join(os.tmpdir(), "if-boot-sig-test-"));
    ref = await pushTinyBootable(path.join(work, "image"));
    await testBucket(s3, "boot-images");
    await fs.writeFile(path.join(work, "fleet.pub"), fleet.publicKey);
    await fs.writeFile(path.join(work, "other.pub"), other.publicKey);
}, 10 * 60_000);

afterAll(async () => {
    await Promise.all([s3?.stop(), registry?.stop()]);
    if (work) await fs.rm(work, { recursive: true, force: true });
});

const inputs = (over: Record<string, unknown> = {}) => ({
    image: "tiny-boot",
    ref,
    bucket: "boot-images",
    s3: { endpoint: s3.endpoint, region: "us-east-1", pathStyle: true },
    credentials: { accessKeyId: s3.connection.accessKeyId, secretAccessKey: s3.connection.secretAccessKey },
    compression: "gzip",
    ...over,
});

/** Downloads the set's manifest and the object at `sigKey`, and asks openssl whether the signature verifies with `pub`. */
async function opensslVerifies(o: BootArtifactsOutputs, sigKey: string, pub: string, edit?: (manifest: string) => string): Promise<boolean> {
    const manifest = path.join(work, "manifest.json");
    const sig = path.join(work, "manifest.json.sig");
    const text = (await readObject(s3.connection, o.bucket, o.manifest.key)).toString("utf8");
    await fs.writeFile(manifest, edit ? edit(text) : text);
    await fs.writeFile(sig, await readObject(s3.connection, o.bucket, sigKey));
    try {
        const r = await run("openssl", ["dgst", "-sha256", "-verify", path.join(work, pub), "-signature", sig, manifest]);
        return r.stdout.trim() === "Verified OK";
    } catch (e) {
        if (/Verification failure/.test((e as Error).message)) return false;
        throw e;
    }
}

describe("BootArtifacts with the fleet key", () => {
    let o: BootArtifactsOutputs;
    let id: string;

    it("check refuses a key that is not the public key's private half, naming it", async () => {
        const r = await provider.check({}, inputs({ signingKey: other.privateKey, publicKey: fleet.publicKey }));
        expect(r.failures).toEqual([{ property: "signingKey", reason: KEY_MISMATCH }]);
    });

    it("uploads manifest.json.sig beside the manifest: openssl verifies it with the public key, not a tampered manifest, not another key", async () => {
        const checked = await provider.check({}, inputs({ signingKey: fleet.privateKey, publicKey: fleet.publicKey }));
        expect(checked.failures).toEqual([]);
        const created = await provider.create(checked.inputs!);
        id = created.id;
        o = created.outs as BootArtifactsOutputs;
        const digest = ref.split("@")[1];
        expect(o.manifestSignature).toMatchObject({ name: "manifest.json.sig", key: `tiny-boot/${digest}/manifest.json.sig` });
        expect(o.manifestSignature!.keyFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect((await headObject(s3.connection, "boot-images", o.manifestSignature!.key))?.sha256).toBe(o.manifestSignature!.sha256);
        expect(await opensslVerifies(o, o.manifestSignature!.key, "fleet.pub")).toBe(true);
        expect(await opensslVerifies(o, o.manifestSignature!.key, "fleet.pub", (m) => m.replace(o.rootfs.sha256, "0".repeat(64)))).toBe(false);
        expect(await opensslVerifies(o, o.manifestSignature!.key, "other.pub")).toBe(false);
    });

    it("a no-op signs nothing; a new key signs the same manifest again in place; no key removes the signature", async () => {
        const same = (await provider.check(o, inputs({ signingKey: fleet.privateKey, publicKey: fleet.publicKey }))).inputs!;
        expect(await provider.diff(id, o, same)).toMatchObject({ changes: false });

        const rotated = (await provider.check(o, inputs({ signingKey: other.privateKey, publicKey: other.publicKey }))).inputs!;
        expect(await provider.diff(id, o, rotated)).toMatchObject({ changes: true, replaces: [] });
        const r = (await provider.update!(id, o, rotated)).outs as BootArtifactsOutputs;
        expect(r.manifest).toEqual(o.manifest); // the set is not made again
        expect(r.manifestSignature!.key).toBe(o.manifestSignature!.key);
        expect(r.manifestSignature!.keyFingerprint).not.toBe(o.manifestSignature!.keyFingerprint);
        expect(await opensslVerifies(r, r.manifestSignature!.key, "other.pub")).toBe(true);
        expect(await opensslVerifies(r, r.manifestSignature!.key, "fleet.pub")).toBe(false);

        const unsigned = (await provider.check(r, inputs())).inputs!;
        const u = (await provider.update!(id, r, unsigned)).outs as BootArtifactsOutputs;
        expect(u.manifestSignature).toBeNull();
        expect(await headObject(s3.connection, "boot-images", r.manifestSignature!.key)).toBeUndefined();
        o = u;
    });

    it("without a key nothing is signed; delete removes every object of a signed set", async () => {
        const plain = (await provider.create((await provider.check({}, inputs({ image: "tiny-plain" }))).inputs!)).outs as BootArtifactsOutputs;
        expect(plain.manifestSignature).toBeNull();
        expect(await headObject(s3.connection, "boot-images", `${plain.prefix}manifest.json.sig`)).toBeUndefined();
        await provider.delete(`s3://boot-images/${plain.prefix}`, plain);

        const signed = (await provider.update!(id, o, (await provider.check(o, inputs({ signingKey: fleet.privateKey, publicKey: fleet.publicKey }))).inputs!)).outs as BootArtifactsOutputs;
        expect(await opensslVerifies(signed, signed.manifestSignature!.key, "fleet.pub")).toBe(true);
        await provider.delete(id, signed);
        for (const a of [signed.manifest, signed.manifestSignature!, signed.kernel, signed.initrd, signed.rootfs]) expect(await headObject(s3.connection, "boot-images", a.key)).toBeUndefined();
    });
});

describe("BootArtifacts replaced under the same keys", () => {
    it("a new compression deletes the old set first: made first, its objects would be removed by the old set's delete", async () => {
        const zstd = (await provider.check({}, inputs({ image: "tiny-replace", compression: "zstd" }))).inputs!;
        const old = (await provider.create(zstd)).outs as BootArtifactsOutputs;
        const gzip = (await provider.check(old, inputs({ image: "tiny-replace", compression: "gzip" }))).inputs!;
        expect(await provider.diff(`s3://boot-images/${old.prefix}`, old, gzip)).toMatchObject({ changes: true, replaces: ["compression"], deleteBeforeReplace: true });
        // Another digest is another prefix: the new set is made first and the old one deleted after.
        const other = { ...gzip, ref: ref.replace(/@sha256:.*/, `@sha256:${"1".repeat(64)}`) };
        expect(await provider.diff(`s3://boot-images/${old.prefix}`, old, other)).toMatchObject({ replaces: ["ref", "compression"], deleteBeforeReplace: false });

        // Why: in the other order the set would be gone.
        const made = (await provider.create(gzip)).outs as BootArtifactsOutputs;
        expect(made.prefix).toBe(old.prefix);
        await provider.delete(`s3://boot-images/${old.prefix}`, old);
        expect(await headObject(s3.connection, "boot-images", made.manifest.key)).toBeUndefined();
        // In the engine's order (delete, then create), it is there.
        const again = (await provider.create(gzip)).outs as BootArtifactsOutputs;
        expect((await headObject(s3.connection, "boot-images", again.manifest.key))?.sha256).toBe(again.manifest.sha256);
        expect(again.rootfs.sha256).not.toBe(old.rootfs.sha256);
        await provider.delete(`s3://boot-images/${again.prefix}`, again);
    });
});
