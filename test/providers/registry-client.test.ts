// The registry client against a real registry (docker-registry on loopback).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatRef, parseRef, RegistryClient, sha256Digest, withAuthFile } from "../../components/registry/client";
import { freePort } from "../../scripts/services/registry";
import { ociManifest } from "../support/images";
import { testRegistry } from "../support/registry";
import { promises as fs } from "node:fs";

type Reg = Awaited<ReturnType<typeof testRegistry>>;

/** A minimal OCI image: one config blob, one layer blob, one manifest. */
function tinyImage(text: string) {
    const layer = Buffer.from(text);
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256Digest(layer)] } }));
    const manifest = ociManifest(config, layer, "application/vnd.oci.image.layer.v1.tar");
    return { layer, config, manifest, digest: sha256Digest(manifest) };
}

describe("RegistryClient", () => {
    let reg: Reg;
    let client: RegistryClient;
    beforeAll(async () => {
        reg = await testRegistry();
        client = new RegistryClient(reg.address);
    });
    afterAll(async () => reg?.stop());

    it("pushes blobs and a manifest by digest, leaving no tag", async () => {
        const img = tinyImage("one");
        await client.ping();
        expect(await client.hasBlob("demo/a", sha256Digest(img.layer))).toBe(false);
        await client.putBlob("demo/a", sha256Digest(img.layer), img.layer);
        await client.putBlob("demo/a", sha256Digest(img.config), img.config);
        expect(await client.hasBlob("demo/a", sha256Digest(img.layer))).toBe(true);
        const digest = await client.putManifest("demo/a", img.digest, { body: img.manifest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
        expect(digest).toBe(img.digest);
        expect(await client.listTags("demo/a")).toEqual([]);
        expect((await client.getManifest("demo/a", img.digest))?.body.equals(img.manifest)).toBe(true);
        expect((await client.getBlob("demo/a", sha256Digest(img.layer))).toString()).toBe("one");
    });

    it("moves tags without uploading layers, and resolves them", async () => {
        const a = tinyImage("one");
        const b = tinyImage("two");
        await client.putBlob("demo/a", sha256Digest(b.layer), b.layer);
        await client.putBlob("demo/a", sha256Digest(b.config), b.config);
        await client.putManifest("demo/a", b.digest, { body: b.manifest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
        await client.tag("demo/a", a.digest, "1.0");
        await client.tag("demo/a", a.digest, "latest");
        expect(await client.listTags("demo/a")).toEqual(["1.0", "latest"]);
        expect(await client.resolve("demo/a", "latest")).toBe(a.digest);
        await client.tag("demo/a", b.digest, "latest");
        expect(await client.resolve("demo/a", "latest")).toBe(b.digest);
        expect(await client.resolve("demo/a", "nope")).toBeUndefined();
        await expect(client.tag("demo/a", sha256Digest("missing"), "x")).rejects.toThrow(/does not exist; cannot tag it x/);
    });

    it("mounts a blob from another repository of the same registry", async () => {
        const a = tinyImage("one");
        expect(await client.mountBlob("demo/b", sha256Digest(a.layer), "demo/a")).toBe(true);
        expect(await client.hasBlob("demo/b", sha256Digest(a.layer))).toBe(true);
    });

    it("deletes a manifest by digest; its tags go with it", async () => {
        const b = tinyImage("two");
        expect(await client.deleteManifest("demo/a", b.digest)).toBe(true);
        expect(await client.resolve("demo/a", "latest")).toBeUndefined();
        expect(await client.deleteManifest("demo/a", b.digest)).toBe(false);
    });

    it("names the host when the registry is down", async () => {
        const down = new RegistryClient(`127.0.0.1:${await freePort()}`, { timeoutMs: 3000 });
        await expect(down.ping()).rejects.toThrow(/registry 127\.0\.0\.1:\d+ is not reachable \(ECONNREFUSED\) during GET \/v2\//);
    });
});

describe("image references", () => {
    it("parses and formats host/repo:tag@digest", () => {
        const d = sha256Digest("x");
        expect(parseRef(`127.0.0.1:5000/demo/base:1.0@${d}`)).toEqual({ registry: "127.0.0.1:5000", repository: "demo/base", tag: "1.0", digest: d });
        expect(parseRef("registry.redhat.io/rhel9/rhel-bootc:9.6")).toMatchObject({ registry: "registry.redhat.io", repository: "rhel9/rhel-bootc", tag: "9.6" });
        expect(formatRef({ registry: "localhost:5000", repository: "x", digest: d })).toBe(`localhost:5000/x@${d}`);
    });
    it("rejects references without a host, bad names, bad digests", () => {
        expect(() => parseRef("rhel-bootc:9.6")).toThrow(/has no registry host/);
        expect(() => parseRef("quay.io/Bad_Name")).toThrow(/not a valid repository name/);
        expect(() => parseRef("quay.io/x@sha256:abc")).toThrow(/not a sha256 digest/);
        expect(() => parseRef("docker/x:1")).toThrow(/"docker" is not a registry host/);
    });
    it("writes credentials to a private auth file, removed afterwards", async () => {
        let seen = "";
        await withAuthFile("quay.io", { username: "u", password: "p" }, async (file) => {
            seen = file!;
            const st = await fs.stat(file!);
            expect(st.mode & 0o777).toBe(0o600);
            expect(JSON.parse(await fs.readFile(file!, "utf8")).auths["quay.io"].auth).toBe(Buffer.from("u:p").toString("base64"));
        });
        await expect(fs.stat(seen)).rejects.toThrow();
    });
});
