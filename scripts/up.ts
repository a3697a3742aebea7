// `npm run up` (after scripts/setup.sh): start the local services, put right what
// an interrupted earlier up left behind (scripts/recover.ts), deploy the `local`
// stack with the real engine, print its outputs.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ExecError, run } from "../components/exec";
import { REFRESH_BASES_ENV } from "../components/images";
import { generateSigningKey } from "../components/supply-chain";
import { localSecretsPath } from "../infra/local-secrets";
import { ensureLocalRegistry, ensureLocalS3, ROOT } from "./local-services";
import { recoverInterruptedUpdate, UP_FLAGS } from "./recover";

const say = (s: string) => console.error(`\x1b[1m[image-factory]\x1b[0m ${s}`);
const OPTIONS = { "--refresh-bases": "rebuild the root images from fresh packages; each is released again, with its children, only if its packages changed" };
const unknown = process.argv.slice(2).filter((a) => !(a in OPTIONS));
if (unknown.length) {
    say(
        `unknown option(s): ${unknown.join(" ")}. Options: ${Object.entries(OPTIONS)
            .map(([k, v]) => `${k} (${v})`)
            .join("; ")}`,
    );
    process.exit(2);
}
/** For the engine's run of the program (infra reads it): when a refresh of the bases was asked. */
const programEnv = process.argv.includes("--refresh-bases") ? { [REFRESH_BASES_ENV]: String(Date.now()) } : {};
const pulumi = (args: string[], stream = true) =>
    run("bash", [path.join(ROOT, "scripts/pulumi.sh"), ...args], {
        cwd: ROOT,
        env: programEnv,
        timeoutMs: 3 * 60 * 60_000,
        onLine: stream ? (l) => console.log(l) : undefined,
    });

/**
 * Gives the local stack its machine-generated secrets through the git-ignored
 * .local/secrets/local.json (0600; infra/local-secrets.ts reads it), so that the
 * tracked stack file stays as committed. Values never pass through argv or a log.
 */
async function writeLocalSecrets(values: Record<string, string>, generated: Record<string, () => string> = {}): Promise<void> {
    const file = path.join(ROOT, localSecretsPath("local"));
    let current: Record<string, string>;
    try {
        current = JSON.parse(await fs.readFile(file, "utf8").catch(() => "{}"));
    } catch {
        throw new Error(`${localSecretsPath("local")} is not valid JSON; delete it and run again`); // the parser's message would quote a secret
    }
    // Generated values are made once per machine and then kept.
    const made = Object.fromEntries(
        Object.entries(generated)
            .filter(([k]) => current[k] === undefined)
            .map(([k, make]) => [k, make()]),
    );
    const next = { ...current, ...values, ...made };
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await fs.rename(tmp, file);
    const what = [...(Object.keys(values).length ? ["the local S3 server's credentials"] : []), ...("signingKey" in made ? ["a fleet signing key for this machine"] : [])];
    if (what.length) say(`wrote ${what.join(" and ")} to ${localSecretsPath("local")} (git-ignored)`);
}

/** True when the tracked stack file configures signing itself (then no machine key is made). */
async function stackFileSigns(): Promise<boolean> {
    return /^ {2}image-factory:signing(Key)?:/m.test(await fs.readFile(path.join(ROOT, "stacks/Pulumi.local.yaml"), "utf8"));
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
            say(`deploying the ${stack} stack (pulumi up ${UP_FLAGS.join(" ")} --stack ${stack})${REFRESH_BASES_ENV in programEnv ? ", the root images from fresh packages" : ""} ...`);
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
    // The local stack signs what it releases with a key made for this machine (its public half
    // is the stack output signing.publicKey; infra/config.ts derives it from the private half).
    await writeLocalSecrets(s3 ? { s3AccessKey: s3.accessKeyId, s3SecretKey: s3.secretAccessKey } : {}, (await stackFileSigns()) ? {} : { signingKey: () => generateSigningKey().privateKey });
    await deploy("local");
    const out = await pulumi(["stack", "output", "--json", "--stack", "local"], false);
    say("stack outputs (contract v1):");
    console.log(out.stdout.trim());
}

main().catch((e) => {
    say(`failed: ${(e as Error).message}`);
    process.exit(1);
});
