// `npm run up` (after scripts/setup.sh): start the local services, deploy the
// `local` stack with the real engine, print its outputs.
import * as path from "node:path";
import { run } from "../components/exec";
import { ensureLocalRegistry, ensureLocalS3, ROOT } from "./local-services";

const say = (s: string) => console.error(`\x1b[1m[image-factory]\x1b[0m ${s}`);
const pulumi = (args: string[], stream = true, input?: string, secrets: string[] = []) =>
    run("bash", [path.join(ROOT, "scripts/pulumi.sh"), ...args], {
        cwd: ROOT,
        timeoutMs: 3 * 60 * 60_000,
        onLine: stream ? (l) => console.log(l) : undefined,
        input,
        secrets,
    });

/** Sets a secret in the local stack's config from stdin (never the command line), when it differs. */
async function setSecret(key: string, value: string): Promise<void> {
    // Not redacted, so that it can be compared; stdout is never printed (stream off), and a failure prints no value.
    const current = await pulumi(["config", "get", key, "--stack", "local"], false).catch(() => undefined);
    if (current?.stdout.trim() === value) return;
    await pulumi(["config", "set", "--secret", key, "--stack", "local", "--non-interactive"], false, value, [value]);
}

async function main(): Promise<void> {
    await ensureLocalRegistry(say);
    const s3 = await ensureLocalS3(say);
    await pulumi(["stack", "select", "--create", "--stack", "local"], false);
    if (s3) {
        await setSecret("image-factory:s3AccessKey", s3.accessKeyId);
        await setSecret("image-factory:s3SecretKey", s3.secretAccessKey);
    }
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
