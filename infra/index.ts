// The image-factory program: one stack per site (stacks/Pulumi.<site>.yaml).
import { loadSiteConfig } from "./config";
import { stackOutputs } from "./outputs";
import { deploySite } from "./site";

const config = loadSiteConfig();
const outputs = stackOutputs(config, deploySite(config));

export const schemaVersion = outputs.schemaVersion;
export const site = outputs.site;
export const registry = outputs.registry;
export const images = outputs.images;
export const vmTemplates = outputs.vmTemplates;
export const buckets = outputs.buckets;
export const bootArtifacts = outputs.bootArtifacts;
export const disks = outputs.disks;
export const rollout = outputs.rollout;
export const rolloutReport = outputs.rolloutReport;
export const signing = outputs.signing;
