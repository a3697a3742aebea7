// image-factory:signing and the secret signingKey: the fleet key images are signed
// with (components/supply-chain). Absent: nothing is signed or verified.
import { canonicalPublicKey, publicKeyProblem } from "../components/supply-chain";
import type * as pulumi from "@pulumi/pulumi";
import type { Section } from "./config";

/** image-factory:signing — see components/supply-chain. */
export interface SigningConfig {
    /** The fleet's public key (PEM): devices and sites verify with it. Public, so it is plain config and shows in reviews. */
    publicKey: string;
    /** Pulumi secret (image-factory:signingKey): its private half. Sites that build sign with it; a site that only mirrors needs none. */
    key?: pulumi.Output<string>;
    /** Ship the containers policy that trusts only this key for our registry in the root images (default true). */
    devicePolicy: boolean;
}

/** The `signing` section and the `signingKey` secret. The secret's match with the public key is checked when signing (it is a secret Output here). */
export function signingSection({ values: v, raw, fail, failed, secret }: Section): SigningConfig | undefined {
    const key = secret("signingKey");
    if (raw.values.signing === undefined) {
        if (key) fail("signing.publicKey", "is required with the signingKey secret: the public half, as plain config (devices and reviews see it)");
        return undefined;
    }
    const sg = v.signing;
    if (failed("signing") || !sg) return undefined;
    const why = publicKeyProblem(sg.publicKey);
    if (why) fail("signing.publicKey", why);
    if (!key && !v.hub)
        fail("signingKey", "is required with signing.publicKey on a site that builds images (pulumi config set --secret signingKey < key.pem); only a site that mirrors a hub verifies without it");
    return why ? undefined : { publicKey: canonicalPublicKey(sg.publicKey), key, devicePolicy: sg.devicePolicy ?? true };
}
