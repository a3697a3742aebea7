// Each test file that needs S3 starts its own versitygw on a free loopback port,
// with its own random credentials and a temp data folder.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { provider as bucketProvider } from "../../components/storage/s3-bucket.provider";
import { generateS3Credentials, startS3Server, type RunningS3 } from "../../scripts/services/s3";

export async function testS3(): Promise<RunningS3> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "if-s3-"));
    const s3 = await startS3Server({ dataDir, credentials: generateS3Credentials() });
    return {
        ...s3,
        async stop() {
            await s3.stop();
            await fs.rm(dataDir, { recursive: true, force: true });
        },
    };
}

/** A versioned bucket on `s3` as the artifact store makes one (30 days of old versions), removable with its objects. */
export async function testBucket(s3: RunningS3, name: string): Promise<void> {
    await bucketProvider.create({
        name,
        s3: { endpoint: s3.endpoint, region: "us-east-1", pathStyle: true },
        credentials: { accessKeyId: s3.connection.accessKeyId, secretAccessKey: s3.connection.secretAccessKey },
        noncurrentVersionDays: 30,
        forceDestroy: true,
    });
}
