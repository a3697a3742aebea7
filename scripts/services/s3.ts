// A real S3 server on loopback: versitygw (built by scripts/s3-server.sh from Go
// modules) with its POSIX backend and bucket versioning. `npm run up` starts the
// local stack's one; each test file starts its own on a free port with its own
// credentials. Credentials reach the server through its environment, never its
// command line.
import { randomBytes } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
import * as path from "node:path";
import { cacheDir } from "../../components/cache";
import { startBackground, type Background } from "../../components/exec";
import { s3Client, type S3Connection, type S3Credentials } from "../../components/storage/s3";
import { freePort, waitFor } from "./registry";
import { ListBucketsCommand } from "@aws-sdk/client-s3";

const ROOT = path.resolve(__dirname, "../..");

/** The versitygw version pinned by scripts/toolchain/versitygw/go.mod. */
export function s3ServerVersion(): string {
    const mod = readFileSync(path.join(ROOT, "scripts/toolchain/versitygw/go.mod"), "utf8");
    const m = /^require github\.com\/versity\/versitygw (v\S+)$/m.exec(mod);
    if (!m) throw new Error("scripts/toolchain/versitygw/go.mod does not pin github.com/versity/versitygw");
    return m[1];
}

/** Where scripts/s3-server.sh puts the binary (same rule as scripts/lib.sh). */
export function s3ServerBinary(): string {
    return path.join(cacheDir(), "toolchain", `versitygw-${s3ServerVersion()}`, "versitygw");
}

/** Fresh random credentials for a local server. */
export function generateS3Credentials(): S3Credentials {
    return { accessKeyId: `if${randomBytes(9).toString("hex")}`, secretAccessKey: randomBytes(30).toString("base64url") };
}

export interface RunningS3 {
    /** http://127.0.0.1:<port> */
    endpoint: string;
    /** What clients need: endpoint, region, path-style and the credentials. */
    connection: S3Connection;
    dataDir: string;
    process: Background;
    stop(): Promise<void>;
}

/**
 * Starts versitygw on `address` (default: a free loopback port). Objects live
 * under `dataDir/buckets`, old versions under `dataDir/versions`, the log is
 * `dataDir/s3.log`. With `detach`, it keeps running after this process exits.
 */
export async function startS3Server(opts: {
    dataDir: string;
    credentials: S3Credentials;
    address?: string;
    region?: string;
    detach?: boolean;
}): Promise<RunningS3> {
    const binary = s3ServerBinary();
    try {
        await fs.access(binary, fs.constants.X_OK);
    } catch {
        throw new Error(`the S3 server is not built (${binary} is missing): run \`npm run setup\``);
    }
    const address = opts.address ?? `127.0.0.1:${await freePort()}`;
    const region = opts.region ?? "us-east-1";
    const buckets = path.join(opts.dataDir, "buckets");
    const versions = path.join(opts.dataDir, "versions");
    await fs.mkdir(buckets, { recursive: true, mode: 0o700 });
    await fs.mkdir(versions, { recursive: true, mode: 0o700 });
    const logFile = path.join(opts.dataDir, "s3.log");
    const proc = startBackground(binary, ["--port", address, "--region", region, "--quiet", "posix", "--versioning-dir", versions, buckets], {
        logFile,
        detach: opts.detach,
        env: { ROOT_ACCESS_KEY_ID: opts.credentials.accessKeyId, ROOT_SECRET_ACCESS_KEY: opts.credentials.secretAccessKey },
    });
    const endpoint = `http://${address}`;
    const connection: S3Connection = { endpoint, region, pathStyle: true, ...opts.credentials };
    const client = s3Client(connection, { maxAttempts: 1 });
    try {
        await waitFor(`the S3 server on ${endpoint} (log: ${logFile})`, async () => {
            const ended = await Promise.race([proc.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 0))]);
            if (ended) throw new Error("versitygw exited");
            await client.send(new ListBucketsCommand({}));
        });
    } catch (e) {
        await proc.stop();
        throw e;
    } finally {
        client.destroy();
    }
    return { endpoint, connection, dataDir: opts.dataDir, process: proc, stop: () => proc.stop() };
}
