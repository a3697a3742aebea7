// sha256 of bytes and of files, hex-encoded: the one place the program hashes content.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export const sha256Hex = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** A sha256 fed piece by piece: several hashes of one stream in a single read. */
export function sha256Hasher(): { update(data: Buffer): void; hex(): string } {
    const h = createHash("sha256");
    return { update: (data) => void h.update(data), hex: () => h.digest("hex") };
}

/** Streams `file` through sha256 in 4 MiB reads (archives and disks are large). */
export async function sha256File(file: string): Promise<string> {
    const h = createHash("sha256");
    for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
    return h.digest("hex");
}
