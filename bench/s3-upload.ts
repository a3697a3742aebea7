// Upload throughput against the local S3 server (versitygw on loopback), side by
// side in one run: our uploadFile (local sha256 + multipart with a SHA256 checksum
// per part + HEAD check), the same file again (skipped: local sha256 + HEAD), and a
// bare lib-storage upload without checksums, for the cost of the checksums.
//   node -r ts-node/register/transpile-only bench/s3-upload.ts [MiB, default 256]
import { randomBytes } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { s3Client } from "../components/storage/s3";
import { uploadFile } from "../components/storage/upload";
import { withTempDir } from "../components/temp-dir";
import { generateS3Credentials, startS3Server } from "../scripts/services/s3";

const MiB = 1024 * 1024;

async function main(): Promise<void> {
    const sizeMiB = Number(process.argv[2] ?? 256);
    await withTempDir("if-bench-s3-", async (dir) => {
        const server = await startS3Server({ dataDir: path.join(dir, "s3"), credentials: generateS3Credentials() });
        try {
            const c = server.connection;
            const client = s3Client(c);
            await client.send(new CreateBucketCommand({ Bucket: "bench" }));
            await client.send(new PutBucketVersioningCommand({ Bucket: "bench", VersioningConfiguration: { Status: "Enabled" } }));
            const file = path.join(dir, "payload");
            const fh = await fs.open(file, "w");
            for (let i = 0; i < sizeMiB; i += 4) await fh.write(randomBytes(4 * MiB));
            await fh.close();
            const size = (await fs.stat(file)).size;

            const time = async (what: string, fn: () => Promise<unknown>) => {
                const t = process.hrtime.bigint();
                await fn();
                const s = Number(process.hrtime.bigint() - t) / 1e9;
                console.log(`${what.padEnd(58)} ${s.toFixed(2).padStart(7)} s ${(size / MiB / s).toFixed(0).padStart(6)} MiB/s`);
                return s;
            };
            console.log(`${size / MiB} MiB random file, versitygw ${server.endpoint}, ${os.cpus().length} cores`);
            const bare = await time("lib-storage Upload, no checksums (16 MiB parts, 4 at once)", () =>
                new Upload({ client, params: { Bucket: "bench", Key: "bare", Body: createReadStream(file) }, partSize: 16 * MiB, queueSize: 4 }).done(),
            );
            const ours = await time("uploadFile: sha256 + SHA256 per part + HEAD check", () => uploadFile(c, { bucket: "bench", key: "ours", file }));
            const skip = await time("uploadFile again, same content (skipped)", () => uploadFile(c, { bucket: "bench", key: "ours", file }));
            console.log(`checksummed upload takes ${(ours / bare).toFixed(2)}x the bare upload; a skipped one ${(skip / ours).toFixed(2)}x the checksummed upload`);
            client.destroy();
        } finally {
            await server.stop();
        }
    }, process.env.IMAGE_FACTORY_SCRATCH ?? os.tmpdir());
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
