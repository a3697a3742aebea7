// Renderers are pure; their output is kept as readable snapshot files.
import { promises as fs } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { type FileSpec, loadCatalog, type TestSpec } from "../../components/images/catalog";
import { fileBytes, resolveImages } from "../../components/images/definition";
import { renderBlueprint } from "../../components/images/render/blueprint";
import { renderKiwiRecipe } from "../../components/images/render/kiwi";
import { parseTestOutput, renderTestScript } from "../../components/images/render/test-script";

const ROOT = path.resolve(__dirname, "../..");
const catalog = loadCatalog(path.join(ROOT, "images"));
const resolved = resolveImages(catalog, catalog.order);
const snap = (name: string) => path.join(__dirname, "__snapshots__", "render", name);
const data = (f: FileSpec) => fileBytes(catalog, f);

describe("Containerfile (bootc style)", () => {
    it.each(["base", "httpd", "homepage", "database"])("%s", async (name) => {
        await expect(resolved.get(name)!.containerfile).toMatchFileSnapshot(snap(`${name}.Containerfile`));
    });

    it("a child builds FROM its tested parent, passed by digest as a build argument", () => {
        const cf = resolved.get("homepage")!.containerfile;
        expect(cf).toMatch(/^ARG PARENT_IMAGE\nFROM \$\{PARENT_IMAGE\}$/m);
        expect(cf).toContain('COPY --chown=root:root --chmod=0644 "files/var/www/html/index.html" "/var/www/html/index.html"');
    });

    it("the base bootstraps a root filesystem and installs packages with apt", () => {
        const cf = resolved.get("base")!.containerfile;
        expect(cf).toMatch(/^FROM scratch\nADD rootfs\.tar \/$/m);
        expect(cf).toMatch(/apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold ca-certificates initramfs-tools linux-image-cloud-amd64 sudo/);
        expect(cf).toContain('"containers.bootc"="1"');
    });

    it("edge-node: a file that configures the initramfs makes the initramfs again, after it is copied", () => {
        const lines = resolved.get("edge-node")!.containerfile.split("\n");
        const copied = lines.findIndex((l) => l.includes('"/etc/initramfs-tools/scripts/local-bottom/overlay-root"'));
        expect(lines[copied]).toMatch(/^COPY --chown=root:root --chmod=0755 /);
        expect(lines.indexOf("RUN update-initramfs -u -k all")).toBeGreaterThan(copied);
        expect(resolved.get("homepage")!.containerfile).not.toContain("update-initramfs");
    });

    it("the build context holds every file the Containerfile copies", () => {
        const r = resolved.get("base")!;
        expect([...r.context.keys()].sort()).toEqual([
            "Containerfile",
            "boot/boot-report",
            "boot/boot-report.service",
            "boot/initramfs-hook",
            "files/etc/image-factory/release",
            "files/etc/motd",
            "files/etc/systemd/network/80-dhcp.network",
            "ssh/admin.pub",
        ]);
    });
});

describe("osbuild blueprint (device-edge composes)", () => {
    it.each(["homepage", "database"])("%s", async (name) => {
        const r = resolved.get(name)!;
        await expect(renderBlueprint(r.chain, data)).toMatchFileSnapshot(snap(`${name}.blueprint.toml`));
    });

    it("flattens the lineage: packages and files of every ancestor, the child's file winning", () => {
        const bp = renderBlueprint(resolved.get("homepage")!.chain, data);
        for (const p of ["systemd", "sudo", "apache2"]) expect(bp).toContain(`name = "${p}"`);
        expect(bp.match(/path = "\/var\/www\/html\/index\.html"/g)).toHaveLength(1);
        expect(bp).toContain("Image Mode for the edge");
        expect(bp).toContain('enabled = ["apache2.service", "systemd-networkd.service"]');
    });
});

describe("kiwi-ng recipe (image management service)", () => {
    it("homepage config.xml and config.sh", async () => {
        const r = resolved.get("homepage")!;
        const recipe = renderKiwiRecipe(r.chain, r.rootSource, data);
        await expect(recipe.get("config.xml")!.toString()).toMatchFileSnapshot(snap("homepage.kiwi.config.xml"));
        await expect(recipe.get("config.sh")!.toString()).toMatchFileSnapshot(snap("homepage.kiwi.config.sh"));
        expect([...recipe.keys()].sort()).toEqual([
            "config.sh",
            "config.xml",
            "root/etc/image-factory/release",
            "root/etc/motd",
            "root/etc/systemd/network/80-dhcp.network",
            "root/home/admin/.ssh/authorized_keys",
            "root/var/www/html/index.html",
        ]);
        expect(recipe.get("config.xml")!.toString()).toMatch(/<repository type="apt-deb" alias="debian" distribution="bookworm"/);
    });
});

describe("test script (the one program both gates run)", () => {
    it("base, database (tcp) and homepage (http)", async () => {
        for (const name of ["base", "database", "homepage"]) {
            await expect(renderTestScript(resolved.get(name)!.def.tests)).toMatchFileSnapshot(snap(`${name}.tests.sh`));
        }
    });

    it("is valid POSIX sh, and runs: passes what holds, fails what does not, quoting every value", async () => {
        const { run } = await import("../../components/exec");
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-ts-"));
        const file = path.join(dir, "present");
        await fs.writeFile(file, "x\n", { mode: 0o640 });
        await fs.chmod(file, 0o640);
        await fs.symlink(file, path.join(dir, "link"));
        const tests: TestSpec[] = [
            { name: "true", kind: "command", run: ["true"], exitCode: 0 },
            { name: "quoted $(reboot)", kind: "command", run: ["echo", "it's $(not) run"], exitCode: 0, stdoutContains: "$(not)" },
            { name: "wrong exit", kind: "command", run: ["sh", "-c", "echo out; echo err >&2; exit 3"], exitCode: 0 },
            { name: "expected exit", kind: "command", run: ["sh", "-c", "exit 3"], exitCode: 3 },
            { name: "stdout only", kind: "command", run: ["sh", "-c", "echo needle >&2"], exitCode: 0, stdoutContains: "needle" },
            { name: "a file through a link", kind: "file", path: path.join(dir, "link"), mode: "0640", contains: "x\n" },
            { name: "wrong mode", kind: "file", path: file, mode: "644" },
            { name: "missing", kind: "file", path: "/nope/x" },
        ];
        const script = renderTestScript(tests);
        await run("sh", ["-n", "-c", script]);
        const r = await run("sh", ["-c", script], { okCodes: [0, 1] });
        expect(r.exitCode).toBe(1);
        expect(parseTestOutput(tests, r.stdout)).toEqual([
            { name: "true", passed: true, detail: "" },
            { name: "quoted $(reboot)", passed: true, detail: "" },
            { name: "wrong exit", passed: false, detail: "`sh -c echo out; echo err >&2; exit 3` exited 3 (expected 0):\nout\nerr" },
            { name: "expected exit", passed: true, detail: "" },
            { name: "stdout only", passed: false, detail: '`sh -c echo needle >&2` output does not contain "needle":\nneedle' },
            { name: "a file through a link", passed: true, detail: "" },
            { name: "wrong mode", passed: false, detail: `${file} has mode 0640, expected 644` },
            { name: "missing", passed: false, detail: "/nope/x is not a file in the image" },
        ]);
        await fs.rm(dir, { recursive: true });
    });

    it("probes HTTP over bash's /dev/tcp: the status exactly, the body's text; TCP by connecting", async () => {
        const { run } = await import("../../components/exec");
        const server = http.createServer((_q, res) => res.writeHead(404, { "content-type": "text/plain" }).end("hello from the host\n"));
        await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
        const port = (server.address() as AddressInfo).port;
        // The service under test only sleeps: the probes reach the server above on its port.
        const service = { kind: "service" as const, start: ["sleep", "5"], timeoutSeconds: 3 };
        const tests: TestSpec[] = [
            { ...service, name: "404 as expected", http: { port, path: "/x", status: 404, contains: "from the host" } },
            { ...service, name: "not 200", http: { port, path: "/", status: 200 } },
            { ...service, name: "body", http: { port, path: "/", status: 404, contains: "it's not there" } },
            { ...service, name: "tcp", tcp: { port } },
        ];
        try {
            const r = await run("sh", ["-c", renderTestScript(tests)], { okCodes: [0, 1] });
            expect(parseTestOutput(tests, r.stdout)).toEqual([
                { name: "404 as expected", passed: true, detail: "" },
                { name: "not 200", passed: false, detail: `GET / on port ${port} → 404 (expected 200)\nhello from the host` },
                { name: "body", passed: false, detail: `GET / on port ${port} → 404, body does not contain "it's not there" (expected 404)\nhello from the host` },
                { name: "tcp", passed: true, detail: "" },
            ]);
        } finally {
            server.close();
        }
    });

    it("parseTestOutput reads multi-line reasons and names, and leaves a test without a record undefined", () => {
        const tests = [{ name: "a" }, { name: "two\nlines" }, { name: "c" }, { name: "never ran" }];
        const out = "ok - a\nnot ok - two\nlines: first\n  second\n  \nnot ok - c: one\n";
        expect(parseTestOutput(tests, out)).toEqual([
            { name: "a", passed: true, detail: "" },
            { name: "two\nlines", passed: false, detail: "first\nsecond" },
            { name: "c", passed: false, detail: "one" },
            undefined,
        ]);
    });
});
