// `npm run up` (after scripts/setup.sh): start the local services, deploy the
// `local` stack with the real engine, print its outputs.
import * as path from "node:path";
import { run } from "../components/exec";
import { ensureLocalRegistry, ROOT } from "./local-services";

const say = (s: string) => console.error(`\x1b[1m[image-factory]\x1b[0m ${s}`);
const pulumi = (args: string[], stream = true) =>
    run("bash", [path.join(ROOT, "scripts/pulumi.sh"), ...args], {
        cwd: ROOT,
        timeoutMs: 3 * 60 * 60_000,
        onLine: stream ? (l) => console.log(l) : undefined,
    });

async function main(): Promise<void> {
    await ensureLocalRegistry(say);
    await pulumi(["stack", "select", "--create", "--stack", "local"], false);
    say("deploying the local stack (pulumi up --yes --stack local) ...");
    await pulumi(["up", "--yes", "--stack", "local", "--non-interactive"]);
    const out = await pulumi(["stack", "output", "--json", "--stack", "local"], false);
    say("stack outputs (contract v1):");
    console.log(out.stdout.trim());
}

main().catch((e) => {
    say(`failed: ${(e as Error).message}`);
    process.exit(1);
});
