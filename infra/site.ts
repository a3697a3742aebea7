// Composes the site's components for its role. Data flows one way:
// config → components → outputs; nothing in components/ imports infra/.
import type { SiteConfig } from "./config";
import type { SiteResult } from "./outputs";

export function deploySite(_config: SiteConfig): SiteResult {
    return { images: {} };
}
