// The supply chain's pure parts: the fleet key in the stack config, signatures
// and DSSE envelopes, the SBOM from a dpkg database, and the device policy in
// the root images' definition.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../components/images/catalog";
import { resolveImages } from "../../components/images/definition";
import { renderPolicy } from "../../components/supply-chain/device-policy";
import { parseDpkgStatus, spdxDocument } from "../../components/supply-chain/sbom";
import { createPublicKey, verify } from "node:crypto";
import {
    checkSignature,
    generateSigningKey,
    KEY_MISMATCH,
    loadSigningKey,
    openEnvelope,
    signatureFileOf,
    signaturePayload,
    signBytes,
    signEnvelope,
    signingKeyProblem,
    signManifest,
    statement,
} from "../../components/supply-chain/sigstore";
import { ConfigError, parseSiteConfig, type RawConfig } from "../../infra/config";
import { withDevicePolicy } from "../../infra/supply-chain";

const fleet = generateSigningKey();
const other = generateSigningKey();
const D = `sha256:${"a".repeat(64)}`;
const base = { site: { name: "site-a", role: "local" }, registry: { url: "127.0.0.1:5000", namespace: "demo" } };
const problems = (values: Record<string, unknown>, secrets: RawConfig["secrets"] = {}): string[] => {
    try {
        parseSiteConfig({ values, secrets });
        return [];
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
};

describe("signing configuration", () => {
    it("takes the public key as plain config and the private key as the secret signingKey", () => {
        const c = parseSiteConfig({ values: { ...base, signing: { publicKey: fleet.publicKey } }, secrets: { signingKey: pulumi.secret(fleet.privateKey) } });
        expect(c.signing).toMatchObject({ publicKey: fleet.publicKey, devicePolicy: true });
    });
    it.each([
        ["a secret without its public key", {}, { signingKey: pulumi.secret(fleet.privateKey) }, "image-factory:signing.publicKey: is required with the signingKey secret"],
        ["a private key where the public key goes", { signing: { publicKey: fleet.privateKey } }, { signingKey: pulumi.secret(fleet.privateKey) }, "image-factory:signing.publicKey: is a private key"],
        ["something that is not a key", { signing: { publicKey: "ssh-ed25519 AAAA" } }, { signingKey: pulumi.secret(fleet.privateKey) }, "image-factory:signing.publicKey: is not a PEM public key"],
        ["a building site without the private key", { signing: { publicKey: fleet.publicKey } }, {}, "image-factory:signingKey: is required with signing.publicKey on a site that builds images"],
        ["an unknown key", { signing: { publicKey: fleet.publicKey, keyless: true } }, { signingKey: pulumi.secret(fleet.privateKey) }, "image-factory:signing.keyless: unknown key"],
    ])("reports %s, naming the key", (_what, values, secrets, expected) => {
        const found = problems({ ...base, ...values }, secrets as RawConfig["secrets"]);
        expect(
            found.some((p) => p.startsWith(expected)),
            found.join("\n"),
        ).toBe(true);
    });
    it("a site that mirrors a hub verifies with the public key alone", () => {
        expect(problems({ ...base, hub: { stack: "o/p/hub" }, signing: { publicKey: fleet.publicKey } })).toEqual([]);
    });
});

describe("signatures and envelopes", () => {
    const key = loadSigningKey(fleet.privateKey);
    it("a signature verifies for its digest and repository only, with the fleet key only", () => {
        const payload = signaturePayload("127.0.0.1:5000/demo/httpd", D);
        const sig = signBytes(key, payload);
        expect(checkSignature(fleet.publicKey, payload, sig, D, "127.0.0.1:5000/demo/httpd")).toBeUndefined();
        expect(checkSignature(other.publicKey, payload, sig, D)).toBe("the signature does not verify with the key");
        expect(checkSignature(fleet.publicKey, payload, sig, `sha256:${"b".repeat(64)}`)).toMatch(/^the signature is for sha256:a+, not sha256:b+$/);
        expect(checkSignature(fleet.publicKey, payload, sig, D, "127.0.0.1:5000/demo/homepage")).toBe("the signature claims 127.0.0.1:5000/demo/httpd, not 127.0.0.1:5000/demo/homepage");
        expect(checkSignature(fleet.publicKey, payload, undefined, D)).toBe("the layer has no signature annotation");
    });
    it("a DSSE envelope opens with the fleet key and not after tampering", () => {
        const env = signEnvelope(key, statement("r/x", D, "https://spdx.dev/Document", { ok: 1 }));
        expect(openEnvelope(fleet.publicKey, env).statement).toMatchObject({ predicateType: "https://spdx.dev/Document", subject: [{ name: "r/x", digest: { sha256: "a".repeat(64) } }] });
        expect(openEnvelope(other.publicKey, env).error).toBe("no signature of the envelope verifies with the key");
        const tampered = { ...env, payload: Buffer.from(Buffer.from(env.payload, "base64").toString().replace('"ok":1', '"ok":2')).toString("base64") };
        expect(openEnvelope(fleet.publicKey, tampered).error).toBe("no signature of the envelope verifies with the key");
    });
    it("refuses keys it cannot sign with, without showing them", () => {
        expect(() => loadSigningKey("awskms:///arn:aws:kms:…", "image-factory:signingKey")).toThrow(/^image-factory:signingKey: KMS key URIs need cosign/);
        expect(() => loadSigningKey("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----", "k")).toThrow(/^k: an encrypted cosign key is not supported/);
    });
});

describe("signed manifests (pre-staged disks, boot artifact sets)", () => {
    const manifest = Buffer.from(`${JSON.stringify({ schemaVersion: 1, images: [{ ref: `r/x@${D}` }] }, null, 2)}\n`);
    // What openssl dgst -sha256 -verify and cosign verify-blob check: ECDSA over SHA-256 of the bytes, DER.
    const verifies = (publicKey: string, data: Buffer, sig: Buffer) => verify("sha256", data, createPublicKey(publicKey), sig);

    it("is a detached DER signature of the exact bytes, by the fleet key only", () => {
        const { signature, keyFingerprint } = signManifest(fleet.privateKey, fleet.publicKey, manifest);
        expect(signature[0]).toBe(0x30); // an ASN.1 SEQUENCE (r, s), not base64
        expect(verifies(fleet.publicKey, manifest, signature)).toBe(true);
        expect(verifies(other.publicKey, manifest, signature)).toBe(false);
        expect(verifies(fleet.publicKey, Buffer.from(manifest.toString().replace(D, `sha256:${"b".repeat(64)}`)), signature)).toBe(false);
        expect(keyFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(signatureFileOf("manifest.json")).toBe("manifest.json.sig");
    });

    it("refuses a key that is not the private half of the public key, and keys it cannot sign with, without showing them", () => {
        expect(() => signManifest(other.privateKey, fleet.publicKey, manifest)).toThrow(KEY_MISMATCH);
        expect(signingKeyProblem(other.privateKey, fleet.publicKey)).toBe(KEY_MISMATCH);
        expect(signingKeyProblem(fleet.privateKey, fleet.publicKey)).toBeUndefined();
        expect(signingKeyProblem(fleet.privateKey, undefined)).toBeUndefined(); // the public key not known yet (preview)
        expect(signingKeyProblem(fleet.privateKey, "not a key")).toMatch(/./); // a reason, not a throw
        expect(signingKeyProblem("awskms:///arn:aws:kms:…", fleet.publicKey)).toMatch(/^image-factory:signingKey: KMS key URIs need cosign/);
        const why = signingKeyProblem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----", fleet.publicKey);
        expect(why).toMatch(/^image-factory:signingKey: not a PEM private key/);
        expect(why).not.toContain("c2VjcmV0");
    });
});

describe("SBOM from the dpkg database", () => {
    const status =
        "Package: b\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.0-1\nMaintainer: B Team <b@example.org>\nDescription: bee\n more text\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: a\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n";
    it("lists installed packages only, sorted", () => {
        expect(parseDpkgStatus(status).map((p) => `${p.name}=${p.version}`)).toEqual(["a=3", "b=1:2.0-1"]);
    });
    it("makes an SPDX 2.3 document: the image described, containing each package with a purl", () => {
        const doc = spdxDocument(
            { repository: "127.0.0.1:5000/demo/x", digest: D, name: "x", version: "1.0.0" },
            parseDpkgStatus(status),
            { ID: "debian", VERSION_ID: "12" },
            new Date("2026-01-02T03:04:05.678Z"),
        ) as {
            packages: Array<{ SPDXID: string; supplier?: string; externalRefs: Array<{ referenceLocator: string }> }>;
            relationships: unknown[];
            creationInfo: { created: string };
        };
        expect(doc.creationInfo.created).toBe("2026-01-02T03:04:05Z");
        expect(doc.packages.map((p) => p.SPDXID)).toEqual(["SPDXRef-Image", "SPDXRef-Package-debian-a-all", "SPDXRef-Package-debian-b-amd64"]);
        expect(doc.packages[2].externalRefs[0].referenceLocator).toBe("pkg:deb/debian/b@1%3A2.0-1?arch=amd64&distro=debian-12");
        expect(doc.packages[2].supplier).toBe("Organization: B Team (b@example.org)");
        expect(doc.relationships).toHaveLength(2);
    });
});

describe("the device policy in the root images", () => {
    const catalog = loadCatalog(path.resolve(__dirname, "../../images"));
    const config = (publicKey?: string) => parseSiteConfig({ values: { ...base, ...(publicKey ? { signing: { publicKey } } : {}) }, secrets: publicKey ? { signingKey: pulumi.secret("x") } : {} });
    it("is part of the root images' definition: a new key rebuilds the whole tree", () => {
        const plain = resolveImages(catalog, ["base", "httpd", "homepage", "database"], withDevicePolicy(catalog, config()));
        const signed = resolveImages(catalog, ["base", "httpd", "homepage", "database"], withDevicePolicy(catalog, config(fleet.publicKey)));
        const rekeyed = resolveImages(catalog, ["base", "httpd", "homepage", "database"], withDevicePolicy(catalog, config(other.publicKey)));
        for (const name of ["base", "httpd", "homepage", "database"]) {
            expect(signed.get(name)!.definitionHash).not.toBe(plain.get(name)!.definitionHash);
            expect(rekeyed.get(name)!.definitionHash).not.toBe(signed.get(name)!.definitionHash);
        }
        expect(signed.get("base")!.containerfile).toContain("/etc/containers/policy.json");
        expect(signed.get("httpd")!.containerfile).not.toContain("/etc/containers/policy.json");
    });
    it("accepts only the fleet key for the site's namespace, and local archives", () => {
        const p = JSON.parse(renderPolicy({ registry: "r.example.com", namespace: "demo", publicKey: fleet.publicKey, keyPath: "/k.pub" }));
        expect(p.default).toEqual([{ type: "reject" }]);
        expect(Object.keys(p.transports.docker)).toEqual(["r.example.com/demo"]);
        expect(p.transports["oci-archive"][""]).toEqual([{ type: "insecureAcceptAnything" }]);
        const mirrored = JSON.parse(renderPolicy({ registry: "site.example.com", namespace: "demo", publicKey: fleet.publicKey, signedPrefix: "hub.example.com/demo" }));
        expect(mirrored.transports.docker["site.example.com/demo"][0].signedIdentity).toEqual({ type: "remapIdentity", prefix: "site.example.com/demo", signedPrefix: "hub.example.com/demo" });
    });
});
