// The build storage is a cache: the first process to use it while no other
// process does empties it of the factory's pulled images and of what killed
// builds left, so it does not grow with every run. Real buildah on a temp storage.
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildah, DEFINITION_HASH_LABEL, readyStorage } from "../../components/images/buildah";

/** Commits an empty image named `name`, with the factory's label when `factory`. */
async function makeImage(storage: string, name: string, factory: boolean): Promise<void> {
    const container = (await buildah(storage, ["from", "--quiet", "scratch"])).stdout.trim();
    if (factory) await buildah(storage, ["config", "--label", `${DEFINITION_HASH_LABEL}=sha256:${"0".repeat(64)}`, container]);
    await buildah(storage, ["commit", "--quiet", container, name]);
    await buildah(storage, ["rm", container]);
}

const names = async (storage: string) =>
    (await buildah(storage, ["images", "--format", "{{.Name}}"])).stdout
        .split("\n")
        .filter(Boolean)
        .map((n) => n.replace(/^localhost\//, ""))
        .sort();

describe("build storage sweep (readyStorage)", () => {
    let storage: string;
    beforeEach(async () => {
        storage = await fs.mkdtemp(path.join(os.tmpdir(), "if-storage-"));
        await makeImage(storage, "pulled-base", true);
        await makeImage(storage, "someone-elses", false);
    });
    afterEach(async () => {
        await buildah(storage, ["rmi", "--all", "--force"]).catch(() => undefined);
        await fs.rm(storage, { recursive: true, force: true });
    });

    it("as the only user, removes the factory's images and a leftover working container, and keeps images it did not make", async () => {
        await buildah(storage, ["from", "--quiet", "--name", "if-test-killed", "pulled-base"]);
        const said: string[] = [];
        await readyStorage(storage, (l) => said.push(l));
        expect(await names(storage)).toEqual(["someone-elses"]);
        expect((await buildah(storage, ["containers", "--quiet"])).stdout.trim()).toBe("");
        expect(said.join("\n")).toMatch(/1 working container\(s\) \(if-test-killed\)/);
        expect(said.join("\n")).toMatch(/removed 1 image\(s\) earlier runs pulled into /);
        expect(await fs.readdir(path.join(storage, "users"))).toEqual([String(process.pid)]);
    });

    it("while another live process uses the storage, removes nothing", async () => {
        const other = spawn("sleep", ["60"]);
        try {
            await fs.mkdir(path.join(storage, "users"), { recursive: true });
            await fs.writeFile(path.join(storage, "users", String(other.pid)), "");
            await readyStorage(storage, () => undefined);
            expect(await names(storage)).toEqual(["pulled-base", "someone-elses"]);
        } finally {
            other.kill();
        }
    });
});
