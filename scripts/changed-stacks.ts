// Which site stacks a change touches, for the pull request preview workflow:
// a stack's own file touches that stack; the program, the catalog, the policy
// pack or the dependencies touch every stack. The `local` stack is a developer
// machine's and is never previewed in CI.
//   node -r ts-node/register/transpile-only scripts/changed-stacks.ts <base ref>   →  stacks=["hub","site-a"]
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { run } from "../components/exec";

const SHARED = [/^infra\//, /^components\//, /^images\//, /^policy\//, /^Pulumi\.yaml$/, /^package(-lock)?\.json$/, /^tsconfig\.json$/];

export function changedStacks(changedFiles: string[], stacks: string[]): string[] {
    const ci = stacks.filter((s) => s !== "local").sort();
    if (changedFiles.some((f) => SHARED.some((re) => re.test(f)))) return ci;
    return ci.filter((s) => changedFiles.includes(`stacks/Pulumi.${s}.yaml`));
}

/** Every stack with a file in <root>/stacks (Pulumi.<stack>.yaml), sorted. */
export function stackFiles(root: string): string[] {
    return readdirSync(path.join(root, "stacks"))
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => Boolean(s))
        .sort();
}

/** The stacks the commits since `base` (a git ref) touch. */
export async function affectedStacks(root: string, base: string): Promise<string[]> {
    const diff = await run("git", ["diff", "--name-only", `${base}...HEAD`], { cwd: root });
    return changedStacks(diff.stdout.split("\n").filter(Boolean), stackFiles(root));
}

async function main(): Promise<void> {
    const base = process.argv[2];
    if (!base) throw new Error("usage: changed-stacks.ts <base ref>");
    console.log(`stacks=${JSON.stringify(await affectedStacks(path.resolve(__dirname, ".."), base))}`);
}

if (require.main === module) {
    main().catch((e) => {
        console.error((e as Error).message);
        process.exit(1);
    });
}
