// Another team's program: it reads a site's published images through
// StackReference with the typed reader, which checks the contract version
// first, and uses them pinned by digest.
//
//   pulumi config set site acme/image-factory/site-a
//   pulumi config set image homepage
import * as pulumi from "@pulumi/pulumi";
import { SiteReference } from "@image-factory/components/contract";

const config = new pulumi.Config();
const site = new SiteReference(config.require("site"));
const image = config.get("image") ?? "homepage";

/** What a device rollout would switch to: `bootc switch <ref>`. */
export const imageRef = site.imageRef(image);
export const imageVersion = site.image(image).version;
export const registry = site.registryUrl;
export const siteName = site.outputs.site.name;
