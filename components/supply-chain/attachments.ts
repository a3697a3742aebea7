// Signatures and attestations stored in the registry beside the image, in the
// cosign tag scheme: <repo>:sha256-<hex>.sig and <repo>:sha256-<hex>.att, each
// an OCI image manifest whose layers are the signed payloads.
//
// Why the tag scheme and not OCI 1.1 referrers (`subject` + the referrers API):
// containers/image (podman, skopeo, bootc) reads sigstore signatures only from
// the `.sig` tag ("use-sigstore-attachments"), cosign reads both, and the
// registry we run (distribution 2.8) has no referrers API. Tags work in every
// registry and are copied by a plain tag-preserving mirror.
import type { KeyObject } from "node:crypto";
import type { RegistryClient } from "../registry/client";
import { sha256Digest } from "../registry/client";
import {
    attachmentTag,
    checkSignature,
    DSSE_MEDIA_TYPE,
    type DsseEnvelope,
    openEnvelope,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    signaturePayload,
    signBytes,
    signEnvelope,
} from "./sigstore";
import { FactoryError } from "../errors";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";

interface Descriptor {
    mediaType: string;
    size: number;
    digest: string;
    annotations?: Record<string, string>;
}

interface AttachmentManifest {
    schemaVersion: 2;
    mediaType: string;
    config: Descriptor;
    layers: Descriptor[];
}

export interface Attachment {
    /** host/repo:sha256-<hex>.sig|.att */
    ref: string;
    /** Digest of the attachment manifest. */
    digest: string;
}

export class VerificationError extends FactoryError {
    constructor(message: string) {
        super(message);
        this.name = "VerificationError";
    }
}

async function readAttachment(client: RegistryClient, repository: string, tag: string): Promise<{ manifest: AttachmentManifest; digest: string } | undefined> {
    const m = await client.getManifest(repository, tag);
    if (!m) return undefined;
    const manifest = JSON.parse(m.body.toString("utf8")) as AttachmentManifest;
    if (!Array.isArray(manifest.layers)) throw new VerificationError(`${client.registry}/${repository}:${tag} is not an attachment manifest (no layers)`);
    return { manifest, digest: m.digest };
}

/** Uploads the layers' blobs (already there: skipped) and the manifest under `tag`. */
async function writeAttachment(client: RegistryClient, repository: string, tag: string, layers: Array<{ descriptor: Descriptor; data?: Buffer }>): Promise<string> {
    for (const l of layers) {
        if (l.data && !(await client.hasBlob(repository, l.descriptor.digest))) await client.putBlob(repository, l.descriptor.digest, l.data);
    }
    // As cosign writes it: a config whose diff_ids are the layers.
    const config = Buffer.from(JSON.stringify({ architecture: "", os: "", config: {}, rootfs: { type: "layers", diff_ids: layers.map((l) => l.descriptor.digest) } }));
    const configDigest = sha256Digest(config);
    if (!(await client.hasBlob(repository, configDigest))) await client.putBlob(repository, configDigest, config);
    const manifest: AttachmentManifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, size: config.length, digest: configDigest },
        layers: layers.map((l) => l.descriptor),
    };
    return client.putManifest(repository, tag, { mediaType: OCI_MANIFEST, body: Buffer.from(JSON.stringify(manifest)) });
}

const layerFor = (data: Buffer, mediaType: string, annotations: Record<string, string>) => ({
    descriptor: { mediaType, size: data.length, digest: sha256Digest(data), annotations },
    data,
});

/**
 * The image's signatures that verify with `publicKey` for `digest` and claim
 * `identity` (host/repository). Throws a VerificationError saying why none does.
 */
export async function verifyImageSignature(client: RegistryClient, repository: string, digest: string, publicKey: string, identity = `${client.registry}/${repository}`): Promise<Attachment> {
    const tag = attachmentTag(digest, "sig");
    const where = `${client.registry}/${repository}@${digest}`;
    const sig = await readAttachment(client, repository, tag);
    if (!sig) throw new VerificationError(`${where} is not signed: there is no ${tag} in the registry`);
    const reasons: string[] = [];
    for (const layer of sig.manifest.layers) {
        if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) continue;
        const payload = await client.getBlob(repository, layer.digest);
        const why = checkSignature(publicKey, payload, layer.annotations?.[SIGNATURE_ANNOTATION], digest, identity);
        if (!why) return { ref: `${client.registry}/${repository}:${tag}`, digest: sig.digest };
        reasons.push(why);
    }
    throw new VerificationError(`${where}: no signature verifies with the fleet key (${reasons.length ? reasons.join("; ") : "no signature layers"})`);
}

/**
 * Signs `digest` for `identity` unless a signature by this key is already
 * there (then nothing is written). Signatures by other keys are kept.
 */
export async function signImage(
    client: RegistryClient,
    repository: string,
    digest: string,
    key: KeyObject,
    publicKey: string,
    identity = `${client.registry}/${repository}`,
): Promise<Attachment & { written: boolean }> {
    const existing = await verifyImageSignature(client, repository, digest, publicKey, identity).catch((e) => {
        if (e instanceof VerificationError) return undefined;
        throw e;
    });
    if (existing) return { ...existing, written: false };
    const tag = attachmentTag(digest, "sig");
    const old = await readAttachment(client, repository, tag);
    const payload = signaturePayload(identity, digest);
    const ours = layerFor(payload, SIMPLE_SIGNING_MEDIA_TYPE, { [SIGNATURE_ANNOTATION]: signBytes(key, payload) });
    const kept = (old?.manifest.layers ?? []).map((descriptor) => ({ descriptor }));
    const manifestDigest = await writeAttachment(client, repository, tag, [...kept, ours]);
    const check = await verifyImageSignature(client, repository, digest, publicKey, identity);
    if (check.digest !== manifestDigest) throw new VerificationError(`${client.registry}/${repository}:${tag} changed while it was written (${manifestDigest} → ${check.digest})`);
    return { ...check, written: true };
}

export interface Attestation {
    predicateType: string;
    /** The in-toto statement (JSON bytes) to sign. */
    statement: Buffer;
}

/**
 * Writes the image's attestations (DSSE envelopes signed with `key`) to its
 * `.att` tag, replacing earlier ones by this key with the same predicate type
 * and keeping everything else.
 */
export async function attestImage(client: RegistryClient, repository: string, digest: string, key: KeyObject, publicKey: string, attestations: Attestation[]): Promise<Attachment> {
    const tag = attachmentTag(digest, "att");
    const old = await readAttachment(client, repository, tag);
    const replaced = new Set(attestations.map((a) => a.predicateType));
    const kept: Array<{ descriptor: Descriptor }> = [];
    for (const descriptor of old?.manifest.layers ?? []) {
        if (descriptor.mediaType === DSSE_MEDIA_TYPE && replaced.has(descriptor.annotations?.predicateType ?? "")) {
            const env = JSON.parse((await client.getBlob(repository, descriptor.digest)).toString("utf8")) as DsseEnvelope;
            if (openEnvelope(publicKey, env).statement) continue; // ours, superseded
        }
        kept.push({ descriptor });
    }
    const ours = attestations.map((a) => layerFor(Buffer.from(JSON.stringify(signEnvelope(key, a.statement))), DSSE_MEDIA_TYPE, { [SIGNATURE_ANNOTATION]: "", predicateType: a.predicateType }));
    const manifestDigest = await writeAttachment(client, repository, tag, [...kept, ...ours]);
    return { ref: `${client.registry}/${repository}:${tag}`, digest: manifestDigest };
}

/** The attestations of `digest` that verify with `publicKey` and name the image as their subject, by predicate type. */
export async function readAttestations(client: RegistryClient, repository: string, digest: string, publicKey: string): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    const att = await readAttachment(client, repository, attachmentTag(digest, "att"));
    for (const layer of att?.manifest.layers ?? []) {
        if (layer.mediaType !== DSSE_MEDIA_TYPE) continue;
        const env = JSON.parse((await client.getBlob(repository, layer.digest)).toString("utf8")) as DsseEnvelope;
        const { statement } = openEnvelope(publicKey, env);
        if (!statement?.subject?.some((s) => `sha256:${s.digest.sha256}` === digest)) continue;
        out.set(statement.predicateType, statement.predicate);
    }
    return out;
}

/** Deletes an attachment manifest by digest (its tag goes with it), if it is still there. */
export async function deleteAttachment(client: RegistryClient, repository: string, attachment: Attachment | undefined): Promise<void> {
    if (attachment?.digest) await client.deleteManifest(repository, attachment.digest);
}
