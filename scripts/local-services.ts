// The local stack's services on this machine, started when not running:
// the registry on the address in stacks/Pulumi.local.yaml and, when the stack
// enables the artifact store on a loopback endpoint, the S3 server; data in .local/.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { isLoopback, RegistryClient } from "../components/registry/client";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { s3Client, s3Error, type S3Credentials } from "../components/storage/s3";
import { startRegistry } from "./services/registry";
import { generateS3Credentials, startS3Server } from "./services/s3";

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

/** The local S3 server's credentials, generated once into .local/s3/credentials.json (0600). */
export async function localS3Credentials(): Promise<S3Credentials> {
    const file = path.join(ROOT, ".local/s3/credentials.json");
    try {
        const stored = JSON.parse(await fs.readFile(file, "utf8")) as S3Credentials;
        if (stored.accessKeyId && stored.secretAccessKey) return stored;
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${file}: ${(e as Error).message} (delete it to generate new credentials)`);
    }
    const fresh = generateS3Credentials();
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(fresh), { mode: 0o600 });
    await fs.rename(tmp, file);
    return fresh;
}

/**
 * Starts the local S3 server when the local stack enables the artifact store on a
 * loopback endpoint and nothing answers there. Resolves with the credentials the
 * stack must be given (as secrets), or undefined when there is no local store.
 */
export async function ensureLocalS3(log: (s: string) => void): Promise<S3Credentials | undefined> {
    const config = await localStackConfig();
    const artifacts = config["image-factory:artifacts"];
    const endpoint: string | undefined = artifacts?.endpoint;
    if (!artifacts) return undefined;
    const m = endpoint ? /^http:\/\/([^/]+?)\/?$/.exec(endpoint) : null;
    if (!m || !isLoopback(m[1])) {
        log(`artifact store ${endpoint ?? "(AWS S3)"} is not on this machine; not starting an S3 server`);
        return undefined;
    }
    const credentials = await localS3Credentials();
    const connection = { endpoint: endpoint!, region: artifacts.region ?? "us-east-1", pathStyle: true, ...credentials };
    const client = s3Client(connection, { maxAttempts: 1 });
    try {
        await client.send(new ListBucketsCommand({}));
        log(`S3 server ${endpoint} is running`);
        return credentials;
    } catch (e) {
        const err = s3Error(connection, "listing buckets", e);
        if (!/cannot reach the server/.test(err.message)) throw new Error(`${err.message} (is another S3 server using that address? .local/s3/credentials.json holds the local credentials)`);
    } finally {
        client.destroy();
    }
    const dataDir = path.join(ROOT, ".local/s3");
    log(`starting the local S3 server (versitygw) on ${endpoint} (data: ${path.relative(ROOT, dataDir)}, log: ${path.relative(ROOT, dataDir)}/s3.log)`);
    await startS3Server({ dataDir, credentials, address: m[1], region: connection.region, detach: true });
    return credentials;
}
