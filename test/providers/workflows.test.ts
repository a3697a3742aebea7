// The GitHub workflows pass actionlint (built by scripts/toolchain.sh): a tool
// binary, so this lives in the providers tier and the unit tier needs none.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { cacheDir } from "../../components/cache";
import { run } from "../../components/exec";

const ROOT = path.resolve(__dirname, "../..");
const actionlint = path.join(cacheDir(), "toolchain/tools/actionlint");
const WORKFLOW = path.join(ROOT, ".github/workflows/preview.yml");

describe("GitHub workflows", () => {
    it.each(["preview.yml", "checks.yml"])("%s passes actionlint", async (name) => {
        const r = await run(actionlint, ["-no-color", path.join(ROOT, ".github/workflows", name)], { cwd: ROOT, okCodes: [0, 1] });
        expect(r.stdout, r.stdout).toBe("");
        expect(r.exitCode).toBe(0);
    });

    it("actionlint catches a broken copy (so the check above can fail)", async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-wf-"));
        await fs.mkdir(path.join(dir, ".github/workflows"), { recursive: true });
        const broken = (await fs.readFile(WORKFLOW, "utf8")).replace("needs: stacks", "needs: stack").replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest");
        await fs.writeFile(path.join(dir, ".github/workflows/preview.yml"), broken);
        const r = await run(actionlint, ["-no-color", ".github/workflows/preview.yml"], { cwd: dir, okCodes: [0, 1] });
        expect(r.exitCode).toBe(1);
        expect(r.stdout).toMatch(/job "preview" needs job "stack" which does not exist/);
        expect(r.stdout).toMatch(/"runs-on" section is missing in job "stacks"/);
        await fs.rm(dir, { recursive: true });
    });
});
