// The local stack's services on this machine, started when not running:
// the registry on the address in stacks/Pulumi.local.yaml, data in .local/.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { isLoopback, RegistryClient } from "../components/registry/client";
import { startRegistry } from "./services/registry";

export const ROOT = path.resolve(__dirname, "..");

export async function localStackConfig(): Promise<Record<string, any>> {
    const file = path.join(ROOT, "stacks/Pulumi.local.yaml");
    const doc = parse(await fs.readFile(file, "utf8")) ?? {};
    return doc.config ?? {};
}

/** Starts the local registry unless something already answers on its address. */
export async function ensureLocalRegistry(log: (s: string) => void): Promise<string> {
    const config = await localStackConfig();
    const url: string | undefined = config["image-factory:registry"]?.url;
    if (!url) throw new Error("stacks/Pulumi.local.yaml: image-factory:registry.url is not set");
    if (!isLoopback(url)) {
        log(`registry ${url} is not on this machine; not starting one`);
        return url;
    }
    try {
        await new RegistryClient(url, { timeoutMs: 2000 }).ping();
        log(`registry ${url} is running`);
    } catch {
        const dataDir = path.join(ROOT, ".local/registry");
        log(`starting the local registry on ${url} (data: ${path.relative(ROOT, dataDir)}, log: ${path.relative(ROOT, dataDir)}/registry.log)`);
        await startRegistry({ dataDir, address: url, detach: true });
    }
    return url;
}
