import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A private temp folder (under `parent`, made if missing), removed after `fn` however it ends. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>, parent = os.tmpdir()): Promise<T> {
    await fs.mkdir(parent, { recursive: true });
    const dir = await fs.mkdtemp(path.join(parent, prefix));
    try {
        return await fn(dir);
    } finally {
        await fs.rm(dir, { recursive: true, force: true });
    }
}
