// Signing, SBOM and provenance against a real registry, and the device's view:
// containers/image (what podman, skopeo and bootc decide with; policy-check,
// built by scripts/toolchain.sh) with the policy the base image ships accepts
// what we signed and refuses the rest.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import Ajv from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError, run } from "../../components/exec";
import { cacheDir } from "../../components/cache";
import { RegistryClient, sha256Digest } from "../../components/registry/client";
import { attachmentTag } from "../../components/supply-chain/sigstore";
import { readAttestations, signImage, verifyImageSignature } from "../../components/supply-chain/attachments";
import { renderPolicy, renderRegistriesD } from "../../components/supply-chain/device-policy";
import { readImageFiles, SPDX_PREDICATE_TYPE } from "../../components/supply-chain/sbom";
import { type ImageSignInputs, type ImageSignOutputs, PROVENANCE_PREDICATE_TYPE, provider } from "../../components/supply-chain/sign.provider";
import { generateSigningKey, loadSigningKey } from "../../components/supply-chain/sigstore";
import { withTempDir } from "../../components/temp-dir";
import type { RunningRegistry } from "../../scripts/services/registry";
import { provider as mirror } from "../../components/registry/mirror.provider";
import { provider as builder } from "../../components/images/build.provider";
import { pushImage } from "../support/images";
import { testRegistry } from "../support/registry";

const STATUS = `Package: apache2
Status: install ok installed
Priority: optional
Architecture: amd64
Source: apache2 (2.4.62-1~deb12u2)
Version: 2.4.62-1~deb12u2
Maintainer: Debian Apache Maintainers <debian-apache@lists.debian.org>
Homepage: https://httpd.apache.org/
Description: Apache HTTP Server
 The Apache HTTP Server Project's goal is to build a secure, efficient and
 extensible HTTP server as standards-compliant open source software.

Package: old-tool
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u10
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library: Shared libraries
`;
const POLICY_CHECK = path.join(cacheDir(), "toolchain/tools/policy-check");
const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n';

type Entry = string | { link: string };

/** Pushes an image with one gzipped layer per entry of `layers` (path → content, a symlink, or a whiteout file ".wh.<name>"). */
async function pushLayers(registry: string, repository: string, tag: string, layers: Array<Record<string, Entry>>): Promise<string> {
    const client = new RegistryClient(registry);
    const descriptors = [];
    const diffIds = [];
    for (const files of layers) {
        const tar = await withTempDir("if-sc-layer-", async (dir) => {
            for (const [p, e] of Object.entries(files)) {
                await fs.mkdir(path.dirname(path.join(dir, p)), { recursive: true });
                if (typeof e === "string") await fs.writeFile(path.join(dir, p), e);
                else await fs.symlink(e.link, path.join(dir, p));
            }
            return (await run("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf", "-", "-C", dir, "."], { binaryStdout: true })).stdoutBytes!;
        });
        const layer = gzipSync(tar);
        await client.putBlob(repository, sha256Digest(layer), layer);
        descriptors.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256Digest(layer), size: layer.length });
        diffIds.push(sha256Digest(tar));
    }
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: diffIds } }));
    await client.putBlob(repository, sha256Digest(config), config);
    const manifest = {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256Digest(config), size: config.length },
        layers: descriptors,
    };
    return client.putManifest(repository, tag, { mediaType: manifest.mediaType, body: Buffer.from(JSON.stringify(manifest)) });
}

describe("supply chain: signatures, SBOM and provenance in a real registry", () => {
    let reg: RunningRegistry;
    let work: string;
    const fleet = generateSigningKey();
    const foreign = generateSigningKey();

    beforeAll(async () => {
        reg = await testRegistry();
        work = await fs.mkdtemp(path.join(os.tmpdir(), "if-sc-"));
    });
    afterAll(async () => {
        await reg?.stop();
        if (work) await fs.rm(work, { recursive: true, force: true });
    });

    /** The device's decision with the policy it ships: resolves on acceptance, rejects with containers/image's reason. */
    async function devicePull(ref: string, publicKey = fleet.publicKey): Promise<void> {
        const dir = await fs.mkdtemp(path.join(work, "device-"));
        await fs.mkdir(path.join(dir, "registries.d"));
        await fs.writeFile(path.join(dir, "key.pub"), publicKey);
        await fs.writeFile(path.join(dir, "policy.json"), renderPolicy({ registry: reg.address, namespace: "fleet", publicKey, keyPath: path.join(dir, "key.pub") }));
        await fs.writeFile(path.join(dir, "registries.d/image-factory.yaml"), renderRegistriesD({ registry: reg.address, namespace: "fleet" }));
        await run(POLICY_CHECK, [path.join(dir, "policy.json"), path.join(dir, "registries.d"), ref], { timeoutMs: 120_000 });
    }

    const inputs = (repository: string, digest: string, commit = "a".repeat(40)): ImageSignInputs => ({
        name: "httpd",
        version: "1.0.0",
        registry: reg.address,
        repository,
        digest,
        signingKey: fleet.privateKey,
        publicKey: fleet.publicKey,
        provenance: { definitionHash: `sha256:${"d".repeat(64)}`, parentRef: `${reg.address}/fleet/base@sha256:${"b".repeat(64)}`, tests: [{ name: "config is valid", passed: true }], commit },
    });

    it("reads files from the merged layers: the top layer wins, whiteouts hide, links are followed", async () => {
        const digest = await pushLayers(reg.address, "fleet/layers", "1", [
            { "var/lib/dpkg/status": "old", "usr/lib/os-release": OS_RELEASE, "etc/gone": "x", "opt/a/b": "y" },
            { "var/lib/dpkg/status": STATUS, "etc/os-release": { link: "../usr/lib/os-release" }, "etc/.wh.gone": "", "opt/a/.wh..wh..opq": "" },
        ]);
        const files = await readImageFiles(new RegistryClient(reg.address), "fleet/layers", digest, ["var/lib/dpkg/status", "etc/os-release", "etc/gone", "opt/a/b", "nope"]);
        expect(files.get("var/lib/dpkg/status")?.toString()).toBe(STATUS);
        expect(files.get("etc/os-release")?.toString()).toBe(OS_RELEASE);
        expect([...files.keys()].sort()).toEqual(["etc/os-release", "var/lib/dpkg/status"]);
    });

    it("signs by digest and attests a schema-valid SPDX 2.3 SBOM and SLSA provenance; the device policy accepts the signed image, refuses unsigned, foreign and moved signatures", async () => {
        const signed = await pushImage(reg.address, "fleet/httpd", "1.0.0", { "var/lib/dpkg/status": STATUS, "etc/os-release": OS_RELEASE });
        const out = (await provider.create(inputs("fleet/httpd", signed.digest))).outs as ImageSignOutputs;
        expect(out.ref).toBe(signed.ref);
        expect(out.signature.ref).toBe(`${reg.address}/fleet/httpd:${attachmentTag(signed.digest, "sig")}`);
        expect(out.sbom).toMatchObject({ format: "SPDX-2.3", packages: 2 });
        expect(out.publicKey).toBe(fleet.publicKey);

        const client = new RegistryClient(reg.address);
        const attested = await readAttestations(client, "fleet/httpd", signed.digest, fleet.publicKey);
        const spdx = attested.get(SPDX_PREDICATE_TYPE) as { packages: Array<{ name: string; versionInfo: string; externalRefs: Array<{ referenceLocator: string }> }> };
        const schema = JSON.parse(await fs.readFile(path.join(__dirname, "../support/schemas/spdx-2.3.schema.json"), "utf8"));
        const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
        expect(validate(spdx), JSON.stringify(validate.errors)).toBe(true);
        expect(spdx.packages.map((p) => p.name)).toEqual([`${reg.address}/fleet/httpd`, "apache2", "libc6"]);
        expect(spdx.packages[1].externalRefs[0].referenceLocator).toBe("pkg:deb/debian/apache2@2.4.62-1~deb12u2?arch=amd64&distro=debian-12");
        const provenance = attested.get(PROVENANCE_PREDICATE_TYPE) as { buildDefinition: { externalParameters: { definitionHash: string }; resolvedDependencies: Array<{ name: string }> } };
        expect(provenance.buildDefinition.externalParameters.definitionHash).toBe(`sha256:${"d".repeat(64)}`);
        expect(provenance.buildDefinition.resolvedDependencies.map((d) => d.name)).toEqual(["parent", "definitions"]);
        // Another key does not open them.
        expect((await readAttestations(client, "fleet/httpd", signed.digest, foreign.publicKey)).size).toBe(0);

        await devicePull(`${reg.address}/fleet/httpd@${signed.digest}`);
        await devicePull(`${reg.address}/fleet/httpd:1.0.0`);

        const refused = async (ref: string, why: RegExp) => {
            const e = await devicePull(ref).then(
                () => undefined,
                (err: ExecError) => err,
            );
            expect(e, `${ref} must be refused`).toBeInstanceOf(ExecError);
            expect(e!.message).toMatch(why);
        };
        // Pushed by hand, never signed.
        const unsigned = await pushImage(reg.address, "fleet/handmade", "1.0.0", { "etc/os-release": OS_RELEASE });
        await refused(unsigned.ref, /signature was required, but no signature exists/i);
        await expect(verifyImageSignature(client, "fleet/handmade", unsigned.digest, fleet.publicKey)).rejects.toThrow(/is not signed: there is no sha256-/);
        // Signed, but with a key that is not the fleet's.
        const other = await pushImage(reg.address, "fleet/other", "1.0.0", { "etc/os-release": OS_RELEASE, x: "1" });
        await signImage(client, "fleet/other", other.digest, loadSigningKey(foreign.privateKey), foreign.publicKey);
        await refused(other.ref, /verification failed|signature/i);
        await expect(verifyImageSignature(client, "fleet/other", other.digest, fleet.publicKey)).rejects.toThrow(
            /no signature verifies with the fleet key \(the signature does not verify with the key\)/,
        );
        // The fleet's valid signature of one image copied onto another (tampered image).
        const sig = (await client.getManifest("fleet/httpd", attachmentTag(signed.digest, "sig")))!;
        const tampered = await pushImage(reg.address, "fleet/httpd", "tampered", { "var/lib/dpkg/status": STATUS, "etc/os-release": OS_RELEASE, evil: "1" });
        await client.putManifest("fleet/httpd", attachmentTag(tampered.digest, "sig"), sig);
        await refused(tampered.ref, /digest|does not match/i);
        await expect(verifyImageSignature(client, "fleet/httpd", tampered.digest, fleet.publicKey)).rejects.toThrow(/the signature is for sha256:/);
    });

    it("signs nothing again: same digest and key (a new commit only) is no change; the same digest signed twice keeps one signature", async () => {
        const img = await pushImage(reg.address, "fleet/again", "1.0.0", { "var/lib/dpkg/status": STATUS });
        const first = (await provider.create(inputs("fleet/again", img.digest))).outs as ImageSignOutputs;
        const d = await provider.diff("id", first as never, inputs("fleet/again", img.digest, "b".repeat(40)) as never);
        expect(d.changes).toBe(false);
        const other = await pushImage(reg.address, "fleet/again", "1.0.1", { "var/lib/dpkg/status": STATUS, y: "2" });
        expect((await provider.diff("id", first as never, inputs("fleet/again", other.digest) as never)).changes).toBe(true);
        expect((await provider.diff("id", first as never, { ...inputs("fleet/again", img.digest), signingKey: foreign.privateKey, publicKey: foreign.publicKey } as never)).changes).toBe(true);

        const again = await signImage(new RegistryClient(reg.address), "fleet/again", img.digest, loadSigningKey(fleet.privateKey), fleet.publicKey);
        expect(again).toMatchObject({ written: false, digest: first.signature.digest });
        // A new build is signed; the earlier one keeps its signature (a pin may release it), and delete removes both.
        const second = (await provider.update!("id", first as never, inputs("fleet/again", other.digest) as never)).outs as ImageSignOutputs;
        expect(second.signed.map((s) => s.digest)).toEqual([img.digest, other.digest]);
        await verifyImageSignature(new RegistryClient(reg.address), "fleet/again", img.digest, fleet.publicKey);
        await provider.delete("id", second as never);
        for (const dg of [img.digest, other.digest]) expect(await new RegistryClient(reg.address).resolve("fleet/again", attachmentTag(dg, "sig"))).toBeUndefined();
    });

    it("a mirror verifies the signature before it copies, and copies the signature and attestations with the image", async () => {
        const hub = await pushImage(reg.address, "hub/httpd", "1.0.0", { "var/lib/dpkg/status": STATUS, "etc/os-release": OS_RELEASE, m: "1" });
        await provider.create(inputs("hub/httpd", hub.digest));
        const mirrorInputs = {
            name: "httpd",
            sourceRegistry: reg.address,
            sourceRepository: "hub/httpd",
            digest: hub.digest,
            registry: reg.address,
            repository: "site/httpd",
            tags: ["1.0.0"],
            publicKey: fleet.publicKey,
        };
        const out = (await mirror.create(mirrorInputs)).outs;
        expect(out.ref).toBe(`${reg.address}/site/httpd@${hub.digest}`);
        const client = new RegistryClient(reg.address);
        for (const kind of ["sig", "att"] as const) {
            expect(await client.resolve("site/httpd", attachmentTag(hub.digest, kind))).toBe(await client.resolve("hub/httpd", attachmentTag(hub.digest, kind)));
        }
        // The copy verifies (its signature names the hub's repository, which a site device policy maps with remapIdentity).
        await verifyImageSignature(client, "site/httpd", hub.digest, fleet.publicKey, `${reg.address}/hub/httpd`);
        expect((await readAttestations(client, "site/httpd", hub.digest, fleet.publicKey)).has(SPDX_PREDICATE_TYPE)).toBe(true);
        // An unsigned image on the hub is not copied at all.
        const unsigned = await pushImage(reg.address, "hub/handmade", "1.0.0", { n: "1" });
        await expect(mirror.create({ ...mirrorInputs, name: "handmade", sourceRepository: "hub/handmade", repository: "site/handmade", digest: unsigned.digest })).rejects.toThrow(
            `handmade: will not mirror ${reg.address}/hub/handmade@${unsigned.digest}: ${reg.address}/hub/handmade@${unsigned.digest} is not signed`,
        );
        expect(await client.resolve("site/handmade", unsigned.digest)).toBeUndefined();
        await mirror.delete("id", out);
        expect(await client.resolve("site/httpd", attachmentTag(hub.digest, "sig"))).toBeUndefined();
    });

    it("a child builds only on a parent signed with the fleet key: an unsigned or foreign-signed parent stops the build before any work", async () => {
        const client = new RegistryClient(reg.address);
        const parent = await pushImage(reg.address, "fleet/parent", "1.0.0", { "etc/motd": "pushed by hand\n" });
        const parentRef = `${reg.address}/fleet/parent@${parent.digest}`;
        const storage = path.join(work, "child-storage");
        const child = {
            name: "child",
            version: "1.0.0",
            registry: reg.address,
            repository: "fleet/child",
            definitionHash: `sha256:${"c".repeat(64)}`,
            containerfile: "FROM scratch\n",
            context: { Containerfile: { text: "FROM scratch\n" } },
            source: null,
            parentRef,
            parentPublicKey: fleet.publicKey,
            storage,
            cacheDir: work,
        };
        await expect(builder.create(child)).rejects.toThrow(`child: will not build on ${parentRef}: ${parentRef} is not signed`);
        await signImage(client, "fleet/parent", parent.digest, loadSigningKey(foreign.privateKey), foreign.publicKey);
        await expect(builder.create(child)).rejects.toThrow(`child: will not build on ${parentRef}: `);
        // Nothing was built: buildah's storage was never touched, nothing was pushed.
        await expect(fs.access(storage)).rejects.toThrow(/ENOENT/);
        expect(await client.listTags("fleet/child")).toEqual([]);
    });

    it("check names the config key and never shows the key material", async () => {
        const bad = await provider.check!({}, { ...inputs("fleet/x", `sha256:${"1".repeat(64)}`), signingKey: "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n" } as never);
        expect(bad.failures?.[0]).toMatchObject({ property: "signingKey" });
        expect(bad.failures?.[0].reason).toMatch(/^image-factory:signingKey: not a PEM private key/);
        const rsa = (await import("node:crypto")).generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const r = await provider.check!({}, { ...inputs("fleet/x", `sha256:${"1".repeat(64)}`), signingKey: rsa } as never);
        expect(r.failures?.[0].reason).toBe("image-factory:signingKey: must be an ECDSA P-256 key, got rsa");
        expect(JSON.stringify(r.failures)).not.toContain("PRIVATE KEY");
        const mismatch = await provider.check!({}, { ...inputs("fleet/x", `sha256:${"1".repeat(64)}`), signingKey: foreign.privateKey } as never);
        expect(mismatch.failures).toEqual([{ property: "signingKey", reason: "image-factory:signingKey is not the private half of image-factory:signing.publicKey" }]);
    });
});
