// Pull requests write the catalog, so every renderer must keep hostile values
// inert on its own, without relying on the catalog's patterns: the definitions
// here bypass those patterns. Each rendered shell line is run by a real shell
// with stand-in commands that record the arguments they get; nothing may run
// that the renderer did not write, and every value must arrive as one argument.
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageDefinition, TestSpec } from "../../components/images/catalog";
import { run } from "../../components/exec";
import { renderContainerfile } from "../../components/images/render/containerfile";
import { renderKiwiRecipe } from "../../components/images/render/kiwi";
import { parseTestOutput, renderTestScript, shWord } from "../../components/images/render/test-script";

let tmp: string;
let bin: string;
let log: string;
let pwned: string;

/** Values that would run a command, split into several words, or expand, if they reached a shell unquoted. */
const hostile = () => [`$(touch ${pwned})`, `\`touch ${pwned}\``, `a;touch ${pwned}`, "two words", "it's", 'q"uote', "$HOME", "back\\slash", "*", "~", "new\nline", "-flag"];

/** Runs `script` with stand-ins for the commands it calls; returns each call's argv. */
async function calls(script: string, shell = "sh"): Promise<string[][]> {
    await fs.writeFile(log, "");
    await run(shell, ["-c", script], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    const text = await fs.readFile(log, "utf8");
    return text
        .split("\u0001\n")
        .filter(Boolean)
        .map((l) => l.split("\u0000").slice(0, -1));
}

beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "if-hostile-"));
    bin = path.join(tmp, "bin");
    log = path.join(tmp, "calls");
    pwned = path.join(tmp, "pwned");
    await fs.mkdir(bin);
    // Each stand-in appends its name and arguments, NUL-separated, one call per record.
    // `rm` too: the apt line cleans /var/lib/apt/lists, which must not happen to this machine.
    for (const cmd of ["apt-get", "useradd", "install", "systemctl", "chown", "chmod", "id", "rm"]) {
        await fs.writeFile(path.join(bin, cmd), `#!/bin/sh\n{ printf '%s\\0' ${cmd} "$@"; printf '\\001\\n'; } >> ${shWord(log)}\n${cmd === "id" ? "exit 1\n" : ""}`, { mode: 0o755 });
    }
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

const definition = (over: Partial<ImageDefinition>): ImageDefinition => ({
    name: "x",
    version: "1",
    source: { kind: "rootfs", distro: "debian", suite: "bookworm", mirror: "http://deb.debian.org/debian", variant: "minbase", packages: [] },
    packages: [],
    files: [],
    users: [],
    units: { enable: [], disable: [] },
    labels: {},
    tests: [],
    file: "images/x.yaml",
    ...over,
});

describe("shWord", () => {
    it("gives a real shell back each value as one argument", async () => {
        const values = hostile();
        expect(await calls(`chown ${values.map(shWord).join(" ")}`)).toEqual([["chown", ...values]]);
        expect(existsSync(pwned)).toBe(false);
    });
});

describe("Containerfile RUN lines", () => {
    it("packages, users, groups, shells and units reach their commands as single arguments", async () => {
        const values = hostile().filter((v) => !v.includes("\n"));
        const cf = renderContainerfile(
            definition({
                packages: values,
                users: [{ name: values[0], groups: [values[2]], sshKeys: [], shell: values[3] }],
                units: { enable: values, disable: [values[1]] },
                description: "line one\nRUN touch /pwned",
            }),
            "apt",
        );
        const runs = cf.split("\n").filter((l) => l.startsWith("RUN "));
        // No value started an instruction of its own: every line is one the renderer writes.
        for (const line of cf.split("\n")) expect(line).toMatch(/^(#|FROM |ADD |ARG |RUN |COPY |LABEL |\s+"|$)/);
        expect(runs).toHaveLength(4);
        const argv = (await Promise.all(runs.map((r) => calls(r.slice(4))))).flat();
        expect(existsSync(pwned)).toBe(false);
        expect(argv).toContainEqual(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", ...[...values].sort()]);
        expect(argv).toContainEqual(["useradd", "--create-home", "--shell", values[3], "--groups", values[2], values[0]]);
        expect(argv).toContainEqual(["systemctl", "enable", ...values]);
        expect(argv).toContainEqual(["systemctl", "disable", values[1]]);
    });

    it("a path or label with a line break, or an owner that is not plain, is refused, not written", () => {
        const user = { name: "a b", groups: [], sshKeys: ["ssh-ed25519 AAAA x"], shell: "/bin/sh" };
        expect(() => renderContainerfile(definition({ users: [user] }), "apt")).toThrow('"a b:a b" is not a plain owner; it cannot be written into a Containerfile');
        expect(() => renderContainerfile(definition({ files: [{ path: "/etc/a\nRUN touch /pwned", content: "x", mode: "0644", owner: "root:root" }] }), "apt")).toThrow(
            /holds a control character; it cannot be written into a Containerfile/,
        );
        expect(() => renderContainerfile(definition({ labels: { a: "x\nRUN touch /pwned" } }), "apt")).toThrow(/holds a control character/);
        expect(() => renderContainerfile(definition({ packages: ["x\nRUN touch /pwned"] }), "apt")).toThrow(/holds a control character/);
    });
});

describe("kiwi config.sh", () => {
    it("file paths, owners and units reach chown, chmod and systemctl as single arguments", async () => {
        const values = hostile().filter((v) => !v.includes("\n"));
        const recipe = renderKiwiRecipe(
            [definition({ files: values.map((v) => ({ path: `/etc/${v}`, content: "x", mode: "0644", owner: "root:root" })), units: { enable: values, disable: [] } })],
            definition({}).source!,
            () => Buffer.from("x"),
        );
        const script = recipe.get("config.sh")!.toString();
        const argv = await calls(script, "bash");
        expect(existsSync(pwned)).toBe(false);
        for (const v of values) {
            expect(argv).toContainEqual(["chown", "root:root", `/etc/${v}`]);
            expect(argv).toContainEqual(["chmod", "0644", `/etc/${v}`]);
        }
        expect(
            argv
                .find((a) => a[0] === "systemctl")
                ?.slice(2)
                .sort(),
        ).toEqual([...values].sort());
    });
});

describe("test script", () => {
    it("test names, commands, paths, services and expected output are never interpreted", async () => {
        const values = hostile();
        const tests: TestSpec[] = values.map((v, i) => ({ name: v, kind: "command", run: ["printf", "%s", v], exitCode: 0, stdoutContains: i % 2 ? v : undefined }));
        tests.push({ name: `file ${values[0]}`, kind: "file", path: path.join(tmp, values[0]), contains: values[2] });
        tests.push({ name: `service ${values[1]}`, kind: "service", start: values, timeoutSeconds: 1, http: { port: 1, path: `/${values[2]}`, status: 200, contains: values[6] } });
        const script = renderTestScript(tests);
        const r = await run("sh", ["-c", script], { okCodes: [0, 1] });
        expect(existsSync(pwned)).toBe(false);
        const results = parseTestOutput(tests, r.stdout);
        // Every command test passed with its value printed back verbatim; the file and service tests failed, naming the value as it is.
        expect(results.slice(0, values.length)).toEqual(values.map((v) => ({ name: v, passed: true, detail: "" })));
        expect(results[values.length]).toEqual({ name: `file ${values[0]}`, passed: false, detail: `${path.join(tmp, values[0])} is not a file in the image` });
        expect(results[values.length + 1]).toMatchObject({ passed: false, detail: expect.stringMatching(/^the service exited before answering after 1s; service output:\n/) });
        // The service's program is the value itself, not what it would run.
        expect(results[values.length + 1]?.detail).toContain(`${values[0]}: No such file or directory`);
        expect(r.exitCode).toBe(1);
    });
});
