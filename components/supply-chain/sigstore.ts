// Sigstore signatures and attestations in the forms that verifiers read, made
// and checked here with the fleet's key (pure: no registry, no files):
//   - a "simple signing" payload signed with ECDSA P-256 / SHA-256: what
//     containers/image (podman, skopeo, bootc) verifies with a `sigstoreSigned`
//     policy, and what `cosign verify --key` verifies;
//   - DSSE envelopes of in-toto statements (SBOM, provenance): what
//     `cosign verify-attestation --key` verifies.
// The private key stays in this process: it is never written to a file or put
// on a command line.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { sha256Hex } from "../hash";
import { FactoryError } from "../errors";

/** The signature annotation of a cosign/containers-image signature layer. */
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
export const DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json";
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
const SIGNATURE_TYPE = "cosign container image signature";

export class SigningKeyError extends FactoryError {
    constructor(message: string) {
        super(message);
        this.name = "SigningKeyError";
    }
}

/** An ECDSA P-256 key pair in PEM (PKCS#8 private, SPKI public), as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes it. */
export function generateSigningKey(): { privateKey: string; publicKey: string } {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    return {
        privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
}

/**
 * Parses a fleet signing key (an unencrypted PEM private key: ECDSA P-256).
 * `where` names the config key in errors; the key itself never appears in one.
 */
export function loadSigningKey(pem: string, where = "signing key"): KeyObject {
    if (/^[a-z0-9]+kms:\/\/|^hashivault:\/\//.test(pem.trim())) {
        throw new SigningKeyError(`${where}: KMS key URIs need cosign to sign, which this build does not include; give a PEM private key (ECDSA P-256)`);
    }
    if (/ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY/.test(pem)) {
        throw new SigningKeyError(`${where}: an encrypted cosign key is not supported; store the unencrypted PKCS#8 PEM as the Pulumi secret (the secret is the encryption)`);
    }
    let key: KeyObject;
    try {
        key = createPrivateKey({ key: pem, format: "pem" });
    } catch (e) {
        throw new SigningKeyError(`${where}: not a PEM private key (${(e as Error).message.replace(/\s+/g, " ")})`);
    }
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
        throw new SigningKeyError(`${where}: must be an ECDSA P-256 key, got ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ""}`);
    }
    return key;
}

export const KEY_MISMATCH = "image-factory:signingKey is not the private half of image-factory:signing.publicKey";

/** Why `privatePem` is not a usable fleet key whose public half is `publicPem`, or undefined (for a provider's check). */
export function signingKeyProblem(privatePem: string, publicPem: string | undefined, where = "image-factory:signingKey"): string | undefined {
    try {
        loadSigningKey(privatePem, where);
        if (publicPem !== undefined && keyFingerprint(publicKeyPem(privatePem)) !== keyFingerprint(publicPem)) return KEY_MISMATCH;
    } catch (e) {
        // Errors name the config key or the public key, never the private key's material.
        return (e as Error).message;
    }
    return undefined;
}

/** The fleet key to sign with: the private key, checked to be the private half of `publicPem`. */
export function fleetKey(privatePem: string, publicPem: string): KeyObject {
    const key = loadSigningKey(privatePem, "image-factory:signingKey");
    if (keyFingerprint(publicKeyPem(privatePem)) !== keyFingerprint(publicPem)) throw new SigningKeyError(KEY_MISMATCH);
    return key;
}

/** The public half of a signing key, as SPKI PEM: what devices and verifiers are given. */
export function publicKeyPem(privateKeyPem: string, where?: string): string {
    return createPublicKey(loadSigningKey(privateKeyPem, where)).export({ type: "spki", format: "pem" }).toString();
}

/** Why `pem` is not a usable fleet public key (ECDSA P-256, SPKI PEM), or undefined. */
export function publicKeyProblem(pem: string): string | undefined {
    if (/PRIVATE KEY/.test(pem)) return "is a private key; give the public half (the private key is the secret signingKey)";
    try {
        const k = createPublicKey({ key: pem, format: "pem" });
        if (k.asymmetricKeyType !== "ec" || k.asymmetricKeyDetails?.namedCurve !== "prime256v1") return `must be an ECDSA P-256 public key, got ${k.asymmetricKeyType}`;
        return undefined;
    } catch {
        return "is not a PEM public key (-----BEGIN PUBLIC KEY-----)";
    }
}

/** The public key in canonical SPKI PEM (whitespace a config store may have changed does not matter). */
export function canonicalPublicKey(pem: string): string {
    return createPublicKey({ key: pem, format: "pem" }).export({ type: "spki", format: "pem" }).toString();
}

/** sha256 of the public key's DER: a short, stable name for the key (as in `keyid`). */
export function keyFingerprint(publicPem: string): string {
    return `sha256:${sha256Hex(createPublicKey(publicPem).export({ type: "spki", format: "der" }))}`;
}

/** The simple-signing payload for an image digest, claimed for `identity` (host/repository). */
export function signaturePayload(identity: string, digest: string): Buffer {
    return Buffer.from(
        JSON.stringify({
            critical: { identity: { "docker-reference": identity }, image: { "docker-manifest-digest": digest }, type: SIGNATURE_TYPE },
            optional: { creator: "image-factory" },
        }),
    );
}

/** ECDSA (ASN.1 DER) over SHA-256 of `data`, base64: the form sigstore uses. */
export function signBytes(key: KeyObject, data: Buffer): string {
    return sign("sha256", data, key).toString("base64");
}

/**
 * A detached signature of a file's bytes (a manifest): ECDSA P-256 over SHA-256,
 * DER, as raw bytes in `<file>.sig`. Checked with the public key alone by
 * `openssl dgst -sha256 -verify fleet.pub -signature <file>.sig <file>` or
 * `cosign verify-blob --key fleet.pub --signature <file>.sig <file>`.
 */
export function signDetached(key: KeyObject, data: Buffer): Buffer {
    return sign("sha256", data, key);
}

/** Where a manifest's detached signature goes: beside it, `<name>.sig`. */
export const signatureFileOf = (manifest: string) => `${manifest}.sig`;

/**
 * Signs a manifest (pre-staged disk, boot artifact set) with the fleet key,
 * checked against its public half, and checks the signature verifies before
 * anything is written. The key is used in this process only.
 */
export function signManifest(privatePem: string, publicPem: string, manifest: Buffer): { signature: Buffer; keyFingerprint: string } {
    const signature = signDetached(fleetKey(privatePem, publicPem), manifest);
    if (!verifyBytes(publicPem, manifest, signature.toString("base64"))) throw new SigningKeyError("the manifest's signature does not verify with image-factory:signing.publicKey");
    return { signature, keyFingerprint: keyFingerprint(publicPem) };
}

export function verifyBytes(publicPem: string, data: Buffer, signatureBase64: string): boolean {
    try {
        return verify("sha256", data, createPublicKey(publicPem), Buffer.from(signatureBase64, "base64"));
    } catch {
        return false;
    }
}

/**
 * Checks one signature layer's payload against the key, the digest and the
 * identity; returns why it does not verify, or undefined when it does.
 */
export function checkSignature(publicPem: string, payload: Buffer, signatureBase64: string | undefined, digest: string, identity?: string): string | undefined {
    if (!signatureBase64) return "the layer has no signature annotation";
    if (!verifyBytes(publicPem, payload, signatureBase64)) return "the signature does not verify with the key";
    let p: { critical?: { identity?: { "docker-reference"?: string }; image?: { "docker-manifest-digest"?: string }; type?: string } };
    try {
        p = JSON.parse(payload.toString("utf8"));
    } catch {
        return "the signed payload is not JSON";
    }
    if (p.critical?.type !== SIGNATURE_TYPE) return `the signed payload's type is ${JSON.stringify(p.critical?.type)}`;
    if (p.critical?.image?.["docker-manifest-digest"] !== digest) return `the signature is for ${p.critical?.image?.["docker-manifest-digest"]}, not ${digest}`;
    const ref = p.critical?.identity?.["docker-reference"];
    if (identity !== undefined && (ref === undefined || repositoryOf(ref) !== identity)) return `the signature claims ${ref}, not ${identity}`;
    return undefined;
}

/** host[:port]/repository of a reference, without its tag or digest. */
export function repositoryOf(ref: string): string {
    const name = ref.split("@")[0];
    const slash = name.lastIndexOf("/");
    const colon = name.lastIndexOf(":");
    return colon > slash ? name.slice(0, colon) : name;
}

/** DSSE pre-authentication encoding: what a DSSE signature covers. */
export function pae(payloadType: string, payload: Buffer): Buffer {
    const type = Buffer.from(payloadType);
    return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export interface DsseEnvelope {
    payloadType: string;
    payload: string;
    signatures: Array<{ keyid: string; sig: string }>;
}

/** An in-toto statement about `subject` (name, sha256 digest) with a predicate. */
export function statement(subjectName: string, digest: string, predicateType: string, predicate: unknown): Buffer {
    return Buffer.from(
        JSON.stringify({
            _type: "https://in-toto.io/Statement/v1",
            subject: [{ name: subjectName, digest: { sha256: digest.replace(/^sha256:/, "") } }],
            predicateType,
            predicate,
        }),
    );
}

export function signEnvelope(key: KeyObject, payload: Buffer, payloadType = IN_TOTO_PAYLOAD_TYPE): DsseEnvelope {
    return { payloadType, payload: payload.toString("base64"), signatures: [{ keyid: "", sig: signBytes(key, pae(payloadType, payload)) }] };
}

/** The statement inside an envelope when one of its signatures verifies with the key; otherwise why not. */
export function openEnvelope(
    publicPem: string,
    envelope: DsseEnvelope,
): { statement?: { subject: Array<{ name: string; digest: Record<string, string> }>; predicateType: string; predicate: unknown }; error?: string } {
    const payload = Buffer.from(envelope.payload ?? "", "base64");
    if (!(envelope.signatures ?? []).some((s) => verifyBytes(publicPem, pae(envelope.payloadType, payload), s.sig))) return { error: "no signature of the envelope verifies with the key" };
    try {
        return { statement: JSON.parse(payload.toString("utf8")) };
    } catch {
        return { error: "the envelope's payload is not JSON" };
    }
}

/** The tag a cosign-style attachment of `digest` lives under: sha256-<hex>.<kind>. */
export function attachmentTag(digest: string, kind: "sig" | "att"): string {
    return `${digest.replace(":", "-")}.${kind}`;
}
