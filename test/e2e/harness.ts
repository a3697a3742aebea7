// Runs the real Pulumi engine (through scripts/pulumi.sh, as `npm run pulumi`
// does) on a project copied into a temp folder, with its own file backend.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run, type RunResult } from "../../components/exec";

export const ROOT = path.resolve(__dirname, "../..");

export interface TestStackOptions {
    /** Files and folders (relative to `from`) to copy into the temp project. */
    files: string[];
    /** Where the files come from. Default: the repository root. */
    from?: string;
    stack: string;
    /** Shared with another TestStack to put several stacks on one backend. */
    backendDir?: string;
    env?: Record<string, string>;
}

export class TestStack {
    private constructor(
        readonly dir: string,
        readonly stack: string,
        readonly backendDir: string,
        private readonly env: Record<string, string>,
        /** This stack made the backend folder (it was not shared in): cleanup removes it too. */
        private readonly ownsBackend: boolean,
    ) {}

    /** Copies the project, links node_modules, and creates the stack. */
    static async create(opts: TestStackOptions): Promise<TestStack> {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-e2e-"));
        const from = opts.from ?? ROOT;
        for (const f of opts.files) {
            await fs.cp(path.join(from, f), path.join(dir, f), { recursive: true });
        }
        await fs.symlink(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
        const backendDir = opts.backendDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "if-state-")));
        const env = {
            PULUMI_BACKEND_URL: `file://${backendDir}`,
            PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase",
            ...opts.env,
        };
        const s = new TestStack(dir, opts.stack, backendDir, env, opts.backendDir === undefined);
        await s.pulumi(["stack", "init"]);
        return s;
    }

    /** Runs `pulumi <args> --stack <stack>` in the project (`env` adds to the stack's for this run); rejects on a non-zero exit. */
    pulumi(args: string[], opts: { okCodes?: number[]; onLine?: (l: string) => void; input?: string; secrets?: string[]; env?: Record<string, string> } = {}): Promise<RunResult> {
        return run("bash", [path.join(ROOT, "scripts/pulumi.sh"), "--cwd", this.dir, ...args, "--stack", this.stack], {
            env: { ...this.env, ...opts.env },
            timeoutMs: 40 * 60_000,
            okCodes: opts.okCodes,
            input: opts.input,
            secrets: opts.secrets,
            onLine: opts.onLine ?? (process.env.E2E_VERBOSE ? (l) => console.log(`  | ${l}`) : undefined),
        });
    }

    setConfig(key: string, value: string, secret = false): Promise<RunResult> {
        return this.pulumi(["config", "set", key, value, ...(secret ? ["--secret"] : [])]);
    }

    /** Sets a secret with its value on stdin, never on the command line. */
    setSecret(key: string, value: string): Promise<RunResult> {
        return this.pulumi(["config", "set", "--secret", key, "--non-interactive"], { input: value, secrets: [value] });
    }

    /** `env`: what the program sees besides the stack's (e.g. what `npm run up -- --refresh-bases` sets). */
    up(extra: string[] = [], env?: Record<string, string>): Promise<RunResult> {
        return this.pulumi(["up", "--yes", "--skip-preview", "--non-interactive", "--color=never", ...extra], { env });
    }

    preview(extra: string[] = []): Promise<RunResult> {
        return this.pulumi(["preview", "--non-interactive", "--color=never", ...extra]);
    }

    destroy(): Promise<RunResult> {
        return this.pulumi(["destroy", "--yes", "--skip-preview", "--non-interactive", "--color=never"]);
    }

    async outputs(showSecrets = false): Promise<Record<string, any>> {
        const r = await this.pulumi(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])]);
        return JSON.parse(r.stdout);
    }

    /** The stack's resources as the engine recorded them. */
    async resources(): Promise<Array<{ urn: string; type: string; outputs?: Record<string, any> }>> {
        const r = await this.pulumi(["stack", "export"]);
        return JSON.parse(r.stdout).deployment.resources ?? [];
    }

    /** Removes the project copy and, unless it was shared in, the backend (stacks sharing it clean up first). */
    async cleanup(): Promise<void> {
        await fs.rm(this.dir, { recursive: true, force: true });
        if (this.ownsBackend) await fs.rm(this.backendDir, { recursive: true, force: true });
    }
}

/** True when the engine has plugin `name` at `version` installed. */
export async function pluginInstalled(name: string, version: string): Promise<boolean> {
    const r = await run("bash", [path.join(ROOT, "scripts/pulumi.sh"), "plugin", "ls"]);
    return r.stdout.split("\n").some((l) => new RegExp(`^${name}\\s+resource\\s+${version.replace(/\./g, "\\.")}\\s`).test(l));
}
