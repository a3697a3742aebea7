// The program's side of the supply chain (components/supply-chain): which
// commit the definitions come from, and the device policy the root images ship.
import type { ImageOutput } from "../components/contract";
import type { Catalog, Customization } from "../components/images";
import { run } from "../components/exec";
import { devicePolicyFiles } from "../components/supply-chain";
import type { SiteConfig } from "./config";

/** The commit of the definitions: `<sha>`, `<sha>-dirty` with uncommitted changes, or "unknown" outside git. */
export async function definitionsCommit(root: string): Promise<string> {
    try {
        const sha = (await run("git", ["rev-parse", "HEAD"], { cwd: root, timeoutMs: 20_000 })).stdout.trim();
        const dirty = (await run("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, timeoutMs: 20_000 })).stdout.trim() !== "";
        return `${sha}${dirty ? "-dirty" : ""}`;
    } catch {
        return "unknown";
    }
}

/**
 * The site's customizations plus, in every root image (one without a catalog
 * parent), the containers policy that trusts only the fleet key for this site's
 * registry. The files are part of the root images' definition, so a new key or
 * registry rebuilds the tree, and `preview --diff` shows it.
 */
export function withDevicePolicy(catalog: Catalog, config: SiteConfig): Record<string, Customization> {
    const customizations = { ...config.images.customizations };
    if (!config.signing?.devicePolicy) return customizations;
    const files = devicePolicyFiles({ registry: config.registry.url, namespace: config.registry.namespace, publicKey: config.signing.publicKey });
    for (const [name, def] of catalog.images) {
        if (def.parent) continue;
        const c = customizations[name] ?? {};
        customizations[name] = { ...c, files: [...(c.files ?? []), ...files.map((f) => ({ path: f.path, content: f.content, mode: f.mode }))] };
    }
    return customizations;
}

/** A hub's image entry for this site's copy: its ref, and its signature and attestations (copied byte for byte, same digests) here. */
export function mirroredOutput(hub: ImageOutput, ref: string): ImageOutput {
    const here = ref.split("@")[0];
    const move = (r: string) => `${here}:${r.slice(r.lastIndexOf(":") + 1)}`;
    return {
        ...hub,
        ref,
        ...(hub.signature ? { signature: { ...hub.signature, ref: move(hub.signature.ref) } } : {}),
        ...(hub.attestations ? { attestations: { ...hub.attestations, ref: move(hub.attestations.ref) } } : {}),
        ...(hub.sbom ? { sbom: { ...hub.sbom, attestation: move(hub.sbom.attestation) } } : {}),
    };
}
