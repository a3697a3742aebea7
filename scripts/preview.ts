// `npm run preview -- <stack> [--summary-only]`: the diff a pull request gets
// (`pulumi preview --diff`, with the policy pack), then what it means: the
// images that rebuild and why, the tags that move, the disks that are remade.
import * as path from "node:path";
import { ExecError, run } from "../components/exec";
import { summarizePreview } from "./preview-summary";

const ROOT = path.resolve(__dirname, "..");
const pulumi = (args: string[], stream: boolean) =>
    run("bash", [path.join(ROOT, "scripts/pulumi.sh"), ...args], { cwd: ROOT, timeoutMs: 60 * 60_000, onLine: stream ? (l) => console.log(l) : undefined });

async function main(): Promise<void> {
    const [stack, ...flags] = process.argv.slice(2);
    if (!stack) throw new Error("usage: npm run preview -- <stack> [--summary-only]");
    if (!flags.includes("--summary-only")) {
        await pulumi(["preview", "--diff", "--non-interactive", "--policy-pack", path.join(ROOT, "policy"), "--stack", stack], true);
    }
    const json = await pulumi(["preview", "--json", "--non-interactive", "--stack", stack], false);
    console.log(`\n${summarizePreview(stack, JSON.parse(json.stdout).steps ?? [])}`);
}

main().catch((e) => {
    // The engine has printed its diagnostics (a policy violation, a config error) already.
    console.error(e instanceof ExecError ? `preview failed (exit ${e.exitCode})` : (e as Error).message);
    process.exit(1);
});
