// The containers signature policy a device runs with (containers-policy.json(5)
// and containers-registries.d(5)): images from our registry namespace are
// accepted only with a sigstore signature by the fleet key; images from any
// other registry are refused; local transports (the pre-staged archives that
// prestage-load copies into storage) are accepted. podman, skopeo and
// `bootc switch`/`upgrade` all read these files through containers/image.

export const POLICY_PATH = "/etc/containers/policy.json";
export const REGISTRIES_D_PATH = "/etc/containers/registries.d/image-factory.yaml";
export const PUBLIC_KEY_PATH = "/etc/pki/containers/image-factory.pub";

export interface DevicePolicyArgs {
    /** host[:port] of the registry devices pull from. */
    registry: string;
    /** The repository prefix our images live under (<registry>/<namespace>/…). */
    namespace: string;
    /** Where the public key file is on the device (keyPath), or undefined to embed it (keyData). */
    keyPath?: string;
    publicKey: string;
    /**
     * Images mirrored from a hub keep the hub's signatures, which name the hub's
     * repositories: accept them for this site's copies (remapIdentity).
     */
    signedPrefix?: string;
}

/** policy.json for a device of the fleet. */
export function renderPolicy(a: DevicePolicyArgs): string {
    const scope = `${a.registry}/${a.namespace}`;
    const requirement: Record<string, unknown> = {
        type: "sigstoreSigned",
        ...(a.keyPath ? { keyPath: a.keyPath } : { keyData: Buffer.from(a.publicKey).toString("base64") }),
        signedIdentity: a.signedPrefix ? { type: "remapIdentity", prefix: scope, signedPrefix: a.signedPrefix } : { type: "matchRepository" },
    };
    const accept = [{ type: "insecureAcceptAnything" }];
    return `${JSON.stringify(
        {
            default: [{ type: "reject" }],
            transports: {
                docker: { [scope]: [requirement] },
                // Local images and archives (pre-staged disks carry a signed manifest of their own).
                "containers-storage": { "": accept },
                "oci-archive": { "": accept },
                "docker-archive": { "": accept },
                oci: { "": accept },
                dir: { "": accept },
            },
        },
        null,
        2,
    )}\n`;
}

/** registries.d: read (and write) sigstore signatures as registry attachments for our registry. */
export function renderRegistriesD(a: Pick<DevicePolicyArgs, "registry" | "namespace">): string {
    return `# image-factory: signatures of ${a.registry}/${a.namespace} are sigstore attachments (<repo>:sha256-<digest>.sig)\ndocker:\n  ${a.registry}:\n    use-sigstore-attachments: true\n`;
}

/** The files the base image ships so that its devices trust only the fleet key for our registry. */
export function devicePolicyFiles(a: Omit<DevicePolicyArgs, "keyPath">): Array<{ path: string; content: string; mode: string }> {
    return [
        { path: PUBLIC_KEY_PATH, content: a.publicKey, mode: "0644" },
        { path: POLICY_PATH, content: renderPolicy({ ...a, keyPath: PUBLIC_KEY_PATH }), mode: "0644" },
        { path: REGISTRIES_D_PATH, content: renderRegistriesD(a), mode: "0644" },
    ];
}
