import { describe, expect, it } from "vitest";
import { describeCommand, ExecError, redact, run } from "../../components/exec";

const node = process.execPath;

describe("exec.run", () => {
    it("runs an argument array and returns its output", async () => {
        const r = await run(node, ["-e", "process.stdout.write(process.argv.slice(1).join('|'))", "a b", "$HOME", ";rm -rf /"]);
        expect(r.stdout).toBe("a b|$HOME|;rm -rf /"); // no shell: metacharacters stay literal
        expect(r.exitCode).toBe(0);
    });

    it("rejects with the command, the exit code and the tail of stderr", async () => {
        const err = await run(node, ["-e", "console.error('disk full'); process.exit(3)"]).catch((e) => e);
        expect(err).toBeInstanceOf(ExecError);
        expect(err.exitCode).toBe(3);
        expect(err.message).toMatch(/failed with exit code 3:\ndisk full/);
        expect(err.message).toContain(node);
    });

    it("accepts listed exit codes", async () => {
        const r = await run(node, ["-e", "process.exit(1)"], { okCodes: [0, 1] });
        expect(r.exitCode).toBe(1);
    });

    it("says when a program is not installed", async () => {
        await expect(run("no-such-program-xyz", ["--version"])).rejects.toThrow(/no-such-program-xyz is not installed or not on PATH/);
    });

    it("kills a program that runs past its timeout", async () => {
        const started = Date.now();
        await expect(run(node, ["-e", "setTimeout(() => {}, 60000)"], { timeoutMs: 300 })).rejects.toThrow(/timed out after 0s/);
        expect(Date.now() - started).toBeLessThan(10_000);
    });

    it("passes secrets through the environment and stdin, and redacts them from output and errors", async () => {
        const secret = "s3cr3t-value";
        const lines: string[] = [];
        const r = await run(node, ["-e", "process.stdin.on('data', d => console.log('got', String(d), process.env.TOKEN))"], {
            env: { TOKEN: secret },
            input: secret,
            secrets: [secret],
            onLine: (l) => lines.push(l),
        });
        expect(r.stdout).toBe("got [secret] [secret]\n");
        expect(lines).toEqual(["got [secret] [secret]"]);
        const err = await run(node, ["-e", "console.error(process.env.TOKEN); process.exit(1)"], {
            env: { TOKEN: secret },
            secrets: [secret],
        }).catch((e) => e);
        expect(err.message).not.toContain(secret);
        expect(err.message).toContain("[secret]");
    });

    it("refuses to put a secret on the command line", async () => {
        await expect(run(node, ["-e", "1", "--password=hunter22"], { secrets: ["hunter22"] })).rejects.toThrow(
            /refusing to run .*--password=\[secret\].*a secret would be on the command line/,
        );
    });

    it("streams progress lines as they come", async () => {
        const lines: string[] = [];
        await run(node, ["-e", "console.log('step 1'); console.error('step 2'); process.stdout.write('step 3')"], {
            onLine: (l, s) => lines.push(`${s}:${l}`),
        });
        expect(lines).toContain("stdout:step 1");
        expect(lines).toContain("stderr:step 2");
        expect(lines).toContain("stdout:step 3");
    });
});

describe("redact and describeCommand", () => {
    it("replaces every occurrence", () => {
        expect(redact("a-x-a", ["a"])).toBe("[secret]-x-[secret]");
        expect(redact("nothing", [""])).toBe("nothing");
    });
    it("quotes only arguments that need it", () => {
        expect(describeCommand("buildah", ["push", "a b", "--tls-verify=false"])).toBe('buildah push "a b" --tls-verify=false');
    });
});
