// `npm run up` (after scripts/setup.sh): start the local services, put right what
// an interrupted earlier up left behind (scripts/recover.ts), deploy the `local`
// stack with the real engine, print its outputs.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ExecError, run } from "../components/exec";
import { localSecretsPath } from "../infra/local-secrets";
import { ensureLocalRegistry, ensureLocalS3, ROOT } from "./local-services";
import { recoverInterruptedUpdate, UP_FLAGS } from "./recover";

const say = (s: string) => console.error(`\x1b[1m[image-factory]\x1b[0m ${s}`);
const pulumi = (args: string[], stream = true) =>
    run("bash", [path.join(ROOT, "scripts/pulumi.sh"), ...args], {
        cwd: ROOT,
        timeoutMs: 3 * 60 * 60_000,
        onLine: stream ? (l) => console.log(l) : undefined,
    });

/**
 * Gives the local stack its machine-generated secrets through the git-ignored
 * .local/secrets/local.json (0600; infra/local-secrets.ts reads it), so that the
 * tracked stack file stays as committed. Values never pass through argv or a log.
 */
async function writeLocalSecrets(values: Record<string, string>): Promise<void> {
    const file = path.join(ROOT, localSecretsPath("local"));
    let current: Record<string, string>;
    try {
        current = JSON.parse(await fs.readFile(file, "utf8").catch(() => "{}"));
    } catch {
        throw new Error(`${localSecretsPath("local")} is not valid JSON; delete it and run again`); // the parser's message would quote a secret
    }
    const next = { ...current, ...values };
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await fs.rename(tmp, file);
    say(`the local S3 server's credentials are in ${localSecretsPath("local")} (git-ignored)`);
}

/** Earlier versions encrypted these into the tracked stack file: take them out again. */
async function dropTrackedSecrets(keys: string[]): Promise<void> {
    const file = path.join(ROOT, "stacks/Pulumi.local.yaml");
    const text = await fs.readFile(file, "utf8");
    const pattern = new RegExp(`^  image-factory:(${keys.join("|")}):\\n    secure: \\S+\\n`, "gm");
    const cleaned = text.replace(pattern, "");
    if (cleaned === text) return;
    await fs.writeFile(file, cleaned);
    say(`removed ${keys.join(", ")} from stacks/Pulumi.local.yaml (they live in ${localSecretsPath("local")} now)`);
}

/** The file backend's folder, or undefined for another backend (which has its own locking and `pulumi cancel`). */
function fileBackendDir(): string | undefined {
    const url = process.env.PULUMI_BACKEND_URL ?? `file://${path.join(ROOT, ".local/state")}`;
    return url.startsWith("file://") ? url.slice("file://".length).replace(/^~(?=\/)/, process.env.HOME ?? "~") : undefined;
}

/**
 * Recovers from an interrupted earlier up, then deploys. Two ups on one stack: the
 * second waits for the first; if both reached the engine at once, the engine's own
 * lock stops one, which waits and tries again.
 */
async function deploy(stack: string): Promise<void> {
    const backendDir = fileBackendDir();
    const stackArgs = (args: string[]) => pulumi([...args, "--stack", stack], false);
    for (let attempt = 1; ; attempt++) {
        try {
            if (backendDir) await recoverInterruptedUpdate({ pulumi: stackArgs, backendDir, projectDir: ROOT, project: "image-factory", stack, say });
            say(`deploying the ${stack} stack (pulumi up ${UP_FLAGS.join(" ")} --stack ${stack}) ...`);
            await pulumi(["up", ...UP_FLAGS, "--stack", stack]);
            return;
        } catch (e) {
            const locked = e instanceof ExecError && /is currently locked by/.test(`${e.stdout}\n${e.stderr}`);
            if (!locked || !backendDir || attempt >= 5) throw e;
            say("another pulumi took the stack's lock at the same moment; waiting for it ...");
        }
    }
}

async function main(): Promise<void> {
    await ensureLocalRegistry(say);
    const s3 = await ensureLocalS3(say);
    await pulumi(["stack", "select", "--create", "--stack", "local"], false);
    await dropTrackedSecrets(["s3AccessKey", "s3SecretKey"]);
    if (s3) await writeLocalSecrets({ s3AccessKey: s3.accessKeyId, s3SecretKey: s3.secretAccessKey });
    await deploy("local");
    const out = await pulumi(["stack", "output", "--json", "--stack", "local"], false);
    say("stack outputs (contract v1):");
    console.log(out.stdout.trim());
}

main().catch((e) => {
    say(`failed: ${(e as Error).message}`);
    process.exit(1);
});
