// Public face of the supply chain: signing, attestations, SBOMs and the device policy.
export { type Attachment, attestImage, readAttestations, signImage, VerificationError, verifyImageSignature } from "./attachments";
export { devicePolicyFiles, POLICY_PATH, PUBLIC_KEY_PATH, REGISTRIES_D_PATH, renderPolicy, renderRegistriesD } from "./device-policy";
export { imageSbom, readImageFiles, SPDX_PREDICATE_TYPE } from "./sbom";
export { ImageSign } from "./sign";
export { PROVENANCE_PREDICATE_TYPE } from "./sign.provider";
export { canonicalPublicKey, generateSigningKey, keyFingerprint, loadSigningKey, publicKeyPem, publicKeyProblem, signatureFileOf, signManifest, signingKeyProblem } from "./sigstore";
