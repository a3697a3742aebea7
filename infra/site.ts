// Composes the site's components for its role. Data flows one way:
// config → components → outputs; nothing in components/ imports infra/.
import { deployAcp } from "./acp";
import type { SiteConfig } from "./config";
import type { SiteResult } from "./outputs";

export function deploySite(config: SiteConfig): SiteResult {
    if (config.site.role === "local") return { images: {} };
    // Roles acp and hub: the ACP's services, registry, builder VM, in-cluster pipeline
    // and VM templates. The image pipeline passes the rendered catalog and the released
    // disks here (AcpInputs) once it is wired in; until then acp.pipeline reports that
    // the catalog was not loaded.
    const acp = deployAcp(config, {});
    return { images: {}, vmTemplates: acp.vmTemplates };
}
