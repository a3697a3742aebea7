// Each test file that needs a registry starts its own on a free loopback port.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startRegistry, type RunningRegistry } from "../../scripts/services/registry";

export async function testRegistry(): Promise<RunningRegistry> {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "if-registry-"));
    const reg = await startRegistry({ dataDir });
    return {
        ...reg,
        async stop() {
            await reg.stop();
            await fs.rm(dataDir, { recursive: true, force: true });
        },
    };
}
