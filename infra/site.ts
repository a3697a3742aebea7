// Composes the site's components for its role. Data flows one way:
// config → components → outputs; nothing in components/ imports infra/.
import { bucketsOutput, deployArtifactStore } from "./artifacts";
import type { SiteConfig } from "./config";
import type { SiteResult } from "./outputs";

export function deploySite(config: SiteConfig): SiteResult {
    // Buckets for recipes, boot artifact sets and pre-staged disks. Released images
    // publish their boot artifacts with publishBootArtifacts(store, name, ref) and
    // bootArtifactsOutput(set) into `bootArtifacts` once the image pipeline is wired.
    const store = deployArtifactStore(config);
    return { images: {}, buckets: store ? bucketsOutput(store) : undefined, bootArtifacts: {} };
}
