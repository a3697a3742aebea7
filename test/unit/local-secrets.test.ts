// The machine-local secrets file (.local/secrets/<stack>.json): read as the
// operator wrote it, refused when others can read it or when it is a link, and
// never quoted in an error.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readLocalSecrets } from "../../infra/local-secrets";

const KNOWN = ["s3AccessKey", "s3SecretKey"];

describe("readLocalSecrets", () => {
    let root: string;
    const file = () => path.join(root, ".local/secrets/local.json");
    const write = async (text: string, mode = 0o600) => {
        await fs.mkdir(path.dirname(file()), { recursive: true });
        await fs.writeFile(file(), text, { mode });
        await fs.chmod(file(), mode);
    };
    beforeEach(async () => {
        root = await fs.mkdtemp(path.join(os.tmpdir(), "if-secrets-"));
    });
    afterEach(() => fs.rm(root, { recursive: true, force: true }));

    it("returns nothing when the file is absent", () => {
        expect(readLocalSecrets(root, "local", KNOWN)).toEqual({});
    });

    it("returns the values of a 0600 file", async () => {
        await write(JSON.stringify({ s3AccessKey: "AK", s3SecretKey: "SK" }));
        expect(readLocalSecrets(root, "local", KNOWN)).toEqual({ s3AccessKey: "AK", s3SecretKey: "SK" });
    });

    it("refuses a file others can read, naming the fix", async () => {
        await write(JSON.stringify({ s3AccessKey: "AK" }), 0o644);
        expect(() => readLocalSecrets(root, "local", KNOWN)).toThrow(".local/secrets/local.json: others can read it (mode 644); run: chmod 600 .local/secrets/local.json");
    });

    it("refuses a symbolic link", async () => {
        await write("{}");
        await fs.rename(file(), `${file()}.real`);
        await fs.symlink(`${file()}.real`, file());
        expect(() => readLocalSecrets(root, "local", KNOWN)).toThrow(".local/secrets/local.json: is a symbolic link; it must be a regular file");
    });

    it("names an unknown key and never quotes a value", async () => {
        await write(JSON.stringify({ s3AccesKey: "hunter2" }));
        expect(() => readLocalSecrets(root, "local", KNOWN)).toThrow(".local/secrets/local.json: s3AccesKey: unknown secret (expected one of: s3AccessKey, s3SecretKey)");
        await write('{"s3AccessKey": hunter2}');
        let message = "";
        try {
            readLocalSecrets(root, "local", KNOWN);
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).toBe(".local/secrets/local.json: not valid JSON");
    });
});
