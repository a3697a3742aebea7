// sha256 of bytes and of files, hex-encoded: the one place the program hashes content.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export const sha256Hex = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** Streams `file` through sha256 in 4 MiB reads (archives and disks are large). */
export async function sha256File(file: string): Promise<string> {
    const h = createHash("sha256");
    for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
    return h.digest("hex");
}
