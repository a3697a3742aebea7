// Each test file that needs S3 starts its own versitygw on a free loopback port,
// with its own random credentials and a temp data folder.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
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
