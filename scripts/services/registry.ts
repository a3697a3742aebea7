// A real OCI registry (Debian's docker-registry, distribution 2.8) on loopback:
// the local stack's registry (started by `npm run up`) and each test's own.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { startBackground, type Background } from "../../components/exec";
import { freePort } from "../../components/net";
import { RegistryClient } from "../../components/registry/client";

export { freePort };

export interface RunningRegistry {
    /** host:port */
    address: string;
    dataDir: string;
    stop(): Promise<void>;
}

/** Waits until `check` passes, or fails with the last error after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<unknown>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            await check();
            return;
        } catch (e) {
            last = e;
            await new Promise((r) => setTimeout(r, 200));
        }
    }
    throw new Error(`${what} did not become ready in ${timeoutMs / 1000}s: ${(last as Error)?.message ?? last}`);
}

export function registryConfig(address: string, dataDir: string): string {
    return [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${dataDir}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: ${address}`,
        "",
    ].join("\n");
}

/**
 * Starts docker-registry on `address` (default: a free loopback port) storing
 * into `dataDir`. With `detach`, it keeps running after this process exits.
 */
export async function startRegistry(opts: { dataDir: string; address?: string; detach?: boolean }): Promise<RunningRegistry & { process: Background }> {
    const address = opts.address ?? `127.0.0.1:${await freePort()}`;
    await fs.mkdir(opts.dataDir, { recursive: true });
    const config = path.join(opts.dataDir, "config.yml");
    await fs.writeFile(config, registryConfig(address, opts.dataDir));
    const proc = startBackground("docker-registry", ["serve", config], {
        logFile: path.join(opts.dataDir, "registry.log"),
        detach: opts.detach,
    });
    const client = new RegistryClient(address, { timeoutMs: 2000 });
    await waitFor(`the registry on ${address} (log: ${path.join(opts.dataDir, "registry.log")})`, async () => {
        const ended = await Promise.race([proc.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 0))]);
        if (ended) throw new Error("docker-registry exited");
        await client.ping();
    });
    return { address, dataDir: opts.dataDir, process: proc, stop: () => proc.stop() };
}
