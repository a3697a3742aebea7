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
import { COMPOSE_SCRIPT, type ComposeJob, composedDigest, renderComposeInput } from "../../components/acp/render/compose";

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
    for (const cmd of ["apt-get", "useradd", "install", "systemctl", "chown", "chmod", "id", "rm", "buildah"]) {
        await fs.writeFile(path.join(bin, cmd), `#!/bin/sh\n{ printf '%s\\0' ${cmd} "$@"; printf '\\001\\n'; } >> ${shWord(log)}\n${STAND_IN_TAIL[cmd] ?? ""}`, { mode: 0o755 });
    }
    // The compose runs buildah through sudo.
    await fs.writeFile(path.join(bin, "sudo"), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

/** What a stand-in does after recording its call: `id` finds no user; buildah keeps a copy of the build context and writes the pushed digest. */
const STAND_IN_TAIL: Record<string, string> = {
    id: "exit 1\n",
    buildah: [
        'for last; do :; done; [ "$7" != bud ] || cp -r "$last" "$(dirname "$0")/../compose-context"',
        'while [ $# -gt 0 ]; do [ "$1" = --digestfile ] && printf "sha256:%064d" 7 > "$2"; shift; done',
        "",
    ].join("\n"),
};

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

describe("compose on the builder VM", () => {
    const job = (over: Partial<ComposeJob> = {}): ComposeJob => ({
        target: "registry.example.com/site/httpd:build-0123",
        parentRef: `registry.example.com/site/base@sha256:${"a".repeat(64)}`,
        tlsVerify: true,
        labels: {},
        context: { Containerfile: { text: "FROM scratch\n" } },
        ...over,
    });
    /** Runs the compose script on `j` with the stand-ins: its result and the calls it made (the work folder it removed is removed). */
    const compose = async (j: ComposeJob, okCodes = [0]) => {
        await fs.rm(path.join(tmp, "compose-context"), { recursive: true, force: true });
        await fs.writeFile(log, "");
        const r = await run("sh", ["-c", COMPOSE_SCRIPT], { env: { PATH: `${bin}:/usr/bin:/bin` }, input: renderComposeInput(j), okCodes });
        const made = (await fs.readFile(log, "utf8"))
            .split("\u0001\n")
            .filter(Boolean)
            .map((l) => l.split("\u0000").slice(0, -1));
        const rm = made.find((c) => c[0] === "rm");
        expect(rm?.slice(0, 2)).toEqual(["rm", "-rf"]);
        await fs.rm(rm![2], { recursive: true, force: true });
        return { ...r, made };
    };

    it("every value reaches buildah as one argument, the context arrives byte for byte, and nothing runs that the script did not write", async () => {
        const values = hostile();
        const labels = Object.fromEntries(values.map((v, i) => [`l${i}`, v]));
        const context = { Containerfile: { text: values.join("\n") }, [`files/${values[3]}`]: { base64: Buffer.from([0, 1, 255]).toString("base64") } };
        const r = await compose(job({ labels, context, parentRef: values[0], authJson: values[2] }));
        expect(existsSync(pwned)).toBe(false);
        const [bud, push] = r.made.filter((c) => c[0] === "buildah");
        expect(bud).toEqual(expect.arrayContaining(["bud", "--tls-verify=true", `PARENT_IMAGE=${values[0]}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]));
        expect(push).toEqual(expect.arrayContaining(["push", "--tls-verify=true", "docker://registry.example.com/site/httpd:build-0123"]));
        // The credentials travel in a file, never as an argument.
        expect(push[push.indexOf("--authfile") + 1]).toMatch(/\/auth\.json$/);
        for (const c of r.made) expect(c.includes(values[2])).toBe(false);
        const copied = path.join(tmp, "compose-context");
        expect(await fs.readFile(path.join(copied, "Containerfile"), "utf8")).toBe(values.join("\n"));
        expect([...(await fs.readFile(path.join(copied, "files", values[3])))]).toEqual([0, 1, 255]);
        expect(composedDigest(r.stdout)).toBe(`sha256:${"0".repeat(63)}7`);
        expect(r.stdout).toContain("composed registry.example.com/site/httpd@sha256:");
    });

    it("a context path that leaves the build context is refused before anything is built", async () => {
        for (const rel of ["../escape", "/etc/passwd", "files/../../escape", "./x/../../y", ""]) {
            const r = await compose(job({ context: { Containerfile: { text: "FROM x" }, [rel]: { text: "x" } } }), [2]);
            expect(r.stderr).toContain(`the context path ${rel} leaves the build context`);
            expect(r.made.filter((c) => c[0] === "buildah")).toEqual([]);
        }
    });

    it("an output without a digest is an error showing its tail", () => {
        expect(() => composedDigest("compose: building x\nsomething else")).toThrow(/reported no digest; its output ended with:\ncompose: building x\nsomething else/);
    });
});
