// ImageSign: after an image passed its gates and before it is released, signs
// its digest with the fleet key and attaches, signed with the same key, its
// SBOM (SPDX 2.3, from the image's dpkg database) and its provenance (SLSA v1:
// definition hash, parent digest, test results, commit). All of it goes to
// the registry beside the image (see attachments.ts), then is read back and
// verified. Unchanged digest, key and provenance → nothing is signed again.
import type { ProviderImpl } from "../dynamic";
import { changedKeys, isUnknown } from "../dynamic";
import { sha256Hex } from "../hash";
import { isDigest, isValidRepository, RegistryClient, type RegistryAuth } from "../registry/client";
import { type Attachment, attestImage, deleteAttachment, readAttestations, signImage, verifyImageSignature } from "./attachments";
import { imageSbom, SPDX_PREDICATE_TYPE } from "./sbom";
import { fleetKey, keyFingerprint, signingKeyProblem, statement } from "./sigstore";

export const PROVENANCE_PREDICATE_TYPE = "https://slsa.dev/provenance/v1";
export const BUILD_TYPE = "https://image-factory.invalid/image-build/v1";

export interface ProvenanceFacts {
    definitionHash: string;
    /** The parent image by digest (host/repo@sha256:…), or null for a root image. */
    parentRef: string | null;
    tests: Array<{ name: string; passed: boolean }>;
    /** Bootable images: the boot gate's verdict on this digest (absent: not booted). */
    boot?: { targetReached: boolean; target: string; failedUnits: string[]; probes: Array<{ name: string; passed: boolean }> } | null;
    /** The commit of the definitions (`<sha>` or `<sha>-dirty`), or "unknown". Not a reason to sign again. */
    commit: string;
}

export interface ImageSignInputs {
    name: string;
    version: string;
    registry: string;
    repository: string;
    /** The digest that passed the gates. */
    digest: string;
    /** Pulumi secret: the fleet's private key (PEM, ECDSA P-256). */
    signingKey: string;
    /** Its public half (PEM): the key of the contract and of the devices' policy. */
    publicKey: string;
    provenance: ProvenanceFacts;
    auth?: RegistryAuth;
}

export interface SbomSummary {
    format: "SPDX-2.3";
    predicateType: string;
    /** Installed packages listed. */
    packages: number;
    /** sha256 of the SBOM document as attested (hex). */
    sha256: string;
}

export interface ImageSignOutputs extends ImageSignInputs {
    /** host/repo@sha256:… — the signed image. */
    ref: string;
    keyFingerprint: string;
    signature: Attachment;
    attestations: Attachment;
    sbom: SbomSummary;
    /** Every digest this resource signed, oldest first: earlier builds stay signed, so a pin can release them. */
    signed: Array<{ digest: string; signature: Attachment; attestations: Attachment }>;
}

/** Inputs whose change means signing (and attesting) again. `commit` is not one: a commit that leaves the image alone changes nothing. */
function changed(olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
    const keys = changedKeys(olds, news, ["registry", "repository", "digest", "signingKey", "publicKey", "version"]);
    const o = olds.provenance as ProvenanceFacts | undefined;
    const n = news.provenance as ProvenanceFacts | undefined;
    if (isUnknown(n) || JSON.stringify({ ...o, commit: "" }) !== JSON.stringify({ ...n, commit: "" })) keys.push("provenance");
    return keys;
}

export function provenancePredicate(i: ImageSignInputs, finishedOn: Date): Record<string, unknown> {
    const p = i.provenance;
    const deps: Array<Record<string, unknown>> = [];
    if (p.parentRef) {
        const [name, digest] = p.parentRef.split("@");
        deps.push({ uri: `oci://${name}`, digest: { sha256: digest.replace(/^sha256:/, "") }, name: "parent" });
    }
    if (/^[0-9a-f]{40}/.test(p.commit)) deps.push({ uri: "git+commit", digest: { gitCommit: p.commit.slice(0, 40) }, name: "definitions", annotations: { dirty: p.commit.endsWith("-dirty") } });
    return {
        buildDefinition: {
            buildType: BUILD_TYPE,
            externalParameters: { image: i.name, version: i.version, definitionHash: p.definitionHash },
            internalParameters: { registry: i.registry, repository: i.repository },
            resolvedDependencies: deps,
        },
        runDetails: {
            builder: { id: "https://image-factory.invalid/builder/local" },
            metadata: { finishedOn: finishedOn.toISOString() },
            byproducts: [
                {
                    name: "tests",
                    annotations: { passed: p.tests.filter((t) => t.passed).length, total: p.tests.length, results: p.tests },
                },
                ...(p.boot ? [{ name: "boot", annotations: p.boot }] : []),
            ],
        },
    };
}

async function signAndAttest(i: ImageSignInputs, earlier: ImageSignOutputs["signed"] = []): Promise<ImageSignOutputs> {
    const say = (l: string) => console.log(`[sign ${i.name}] ${l}`);
    const started = Date.now();
    const key = fleetKey(i.signingKey, i.publicKey);
    const publicKey = i.publicKey;
    const client = new RegistryClient(i.registry, { auth: i.auth });
    const repositoryRef = `${i.registry}/${i.repository}`;
    if ((await client.resolve(i.repository, i.digest)) !== i.digest) throw new Error(`${i.name}: ${repositoryRef}@${i.digest} is not in the registry; nothing to sign`);

    const sbom = await imageSbom(client, { repository: repositoryRef, digest: i.digest, name: i.name, version: i.version }, i.repository);
    const sbomBytes = Buffer.from(JSON.stringify(sbom.document));
    const sig = await signImage(client, i.repository, i.digest, key, publicKey);
    const att = await attestImage(client, i.repository, i.digest, key, publicKey, [
        { predicateType: SPDX_PREDICATE_TYPE, statement: statement(repositoryRef, i.digest, SPDX_PREDICATE_TYPE, sbom.document) },
        { predicateType: PROVENANCE_PREDICATE_TYPE, statement: statement(repositoryRef, i.digest, PROVENANCE_PREDICATE_TYPE, provenancePredicate(i, new Date())) },
    ]);
    // Read back what a verifier will see.
    await verifyImageSignature(client, i.repository, i.digest, publicKey);
    const attested = await readAttestations(client, i.repository, i.digest, publicKey);
    for (const t of [SPDX_PREDICATE_TYPE, PROVENANCE_PREDICATE_TYPE])
        if (!attested.has(t)) throw new Error(`${i.name}: the ${t} attestation of ${repositoryRef}@${i.digest} does not verify after it was written`);
    say(
        `${sig.written ? "signed" : "already signed"} ${repositoryRef}@${i.digest} (key ${keyFingerprint(publicKey).slice(0, 19)}); ` +
            `SBOM (${sbom.packages.length} packages) and provenance attested, read back and verified in ${Date.now() - started} ms`,
    );
    return {
        ...i,
        ref: `${repositoryRef}@${i.digest}`,
        keyFingerprint: keyFingerprint(publicKey),
        signature: { ref: sig.ref, digest: sig.digest },
        attestations: att,
        sbom: { format: "SPDX-2.3", predicateType: SPDX_PREDICATE_TYPE, packages: sbom.packages.length, sha256: sha256Hex(sbomBytes) },
        signed: [...earlier.filter((e) => e.digest !== i.digest), { digest: i.digest, signature: { ref: sig.ref, digest: sig.digest }, attestations: att }],
    };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        if (!isUnknown(news.digest) && !(typeof news.digest === "string" && isDigest(news.digest)))
            failures.push({ property: "digest", reason: `images are signed by digest; got ${JSON.stringify(news.digest)}` });
        if (!isUnknown(news.repository) && !(typeof news.repository === "string" && isValidRepository(news.repository)))
            failures.push({ property: "repository", reason: `${JSON.stringify(news.repository)} is not a valid repository name` });
        if (!isUnknown(news.signingKey)) {
            const why = signingKeyProblem(String(news.signingKey ?? ""), isUnknown(news.publicKey) ? undefined : String(news.publicKey));
            if (why) failures.push({ property: "signingKey", reason: why });
        }
        return { inputs: news, failures };
    },
    async diff(_id, olds, news) {
        const keys = changed(olds, news);
        const replaces = changedKeys(olds, news, ["registry", "repository"]);
        return { changes: keys.length > 0, replaces, deleteBeforeReplace: false };
    },
    async create(inputs) {
        const outs = await signAndAttest(inputs as ImageSignInputs);
        return { id: outs.ref, outs };
    },
    async update(_id, olds, news) {
        if (changed(olds, news).length === 0) return { outs: { ...olds, ...news } };
        return { outs: await signAndAttest(news as ImageSignInputs, (olds as ImageSignOutputs).signed ?? []) };
    },
    async read(id, props) {
        // A signature removed from the registry by hand shows as drift on refresh.
        const p = props as ImageSignOutputs;
        const client = new RegistryClient(p.registry, { auth: p.auth });
        const ok = await verifyImageSignature(client, p.repository, p.digest, p.publicKey).then(
            () => true,
            () => false,
        );
        return ok ? { id, props } : { id, props: { ...p, signature: { ref: p.signature.ref, digest: "" } } };
    },
    async delete(_id, props) {
        // The images' manifests go with their build; their signatures and attestations go here.
        const p = props as ImageSignOutputs;
        const client = new RegistryClient(p.registry, { auth: p.auth });
        for (const s of p.signed ?? []) {
            await deleteAttachment(client, p.repository, s.signature);
            await deleteAttachment(client, p.repository, s.attestations);
        }
    },
};
