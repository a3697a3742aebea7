// Secrets that a machine generates for its own local services (today the local
// S3 server's keys, written by `npm run up`) live in the git-ignored
// .local/secrets/<stack>.json, not in the tracked stack file: `npm run up` leaves
// the clone clean, and the values never pass through argv or a log. The program
// reads the file at run time and hands each value on as a Pulumi secret.
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** Where a stack's machine-local secrets live, relative to the project root. */
export const localSecretsPath = (stack: string) => path.join(".local", "secrets", `${stack}.json`);

/**
 * Reads `<root>/.local/secrets/<stack>.json` ({"s3AccessKey": "…", …}); an
 * absent file means no local secrets. Only `known` keys are allowed, values are
 * strings, and the file must be a regular file (no link) that only its owner can read.
 */
export function readLocalSecrets(root: string, stack: string, known: readonly string[]): Record<string, string> {
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) return {};
    const rel = localSecretsPath(stack);
    const file = path.join(root, rel);
    let fd: number;
    try {
        fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return {};
        throw new Error(`${rel}: ${code === "ELOOP" ? "is a symbolic link; it must be a regular file" : (e as Error).message}`);
    }
    let text: string;
    try {
        const st = fstatSync(fd);
        if (!st.isFile()) throw new Error(`${rel}: is not a regular file`);
        if (st.mode & 0o077) throw new Error(`${rel}: others can read it (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${rel}`);
        text = readFileSync(fd, "utf8");
    } finally {
        closeSync(fd);
    }
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch {
        // The parser's message quotes the text around the error: a secret, so left out.
        throw new Error(`${rel}: not valid JSON`);
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error(`${rel}: must be a JSON object of secret names to strings`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc)) {
        if (!known.includes(k)) throw new Error(`${rel}: ${k}: unknown secret (expected one of: ${known.join(", ")})`);
        if (typeof v !== "string" || v === "") throw new Error(`${rel}: ${k}: must be a non-empty string`);
        out[k] = v;
    }
    return out;
}
