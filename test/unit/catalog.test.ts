import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CatalogError, lineage, loadCatalog, parseCatalog, selectImages } from "../../components/images/catalog";
import { resolveImages } from "../../components/images/definition";

const ROOT = path.resolve(__dirname, "../..");
const BASE = `name: base\nversion: "1.0"\nsource: {rootfs: {suite: bookworm}}\n`;

/** Parses files (name → text) and returns the problems, or [] when valid. */
function problems(files: Record<string, string>, existing: string[] = []): string[] {
    try {
        parseCatalog(
            "/cat",
            Object.entries(files).map(([file, text]) => ({ file, text })),
            (rel) => {
                if (existing.includes(rel)) return Buffer.from("");
                throw new Error("does not exist in the catalog folder");
            },
        );
        return [];
    } catch (e) {
        if (e instanceof CatalogError) return e.problems;
        throw e;
    }
}

describe("catalog validation: every problem, with file and key", () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
        ["YAML syntax error, with its line", { "a.yaml": "name: [unclosed\nversion: 1" }, /^a\.yaml: YAML error at line \d+, column \d+/],
        ["unknown top-level key", { "a.yaml": `${BASE}pakages: [vim]\n` }, /^a\.yaml: pakages: unknown key/],
        ["missing name", { "a.yaml": `version: "1"\nsource: {rootfs: {suite: bookworm}}\n` }, /^a\.yaml: name: is required/],
        ["missing version", { "a.yaml": "name: a\nsource: {rootfs: {suite: bookworm}}\n" }, /^a\.yaml: version: is required/],
        ["duplicate names", { "a.yaml": BASE, "b.yaml": BASE }, /^b\.yaml: name: "base" is already defined in a\.yaml/],
        ["missing parent", { "a.yaml": `name: a\nversion: "1"\nparent: nope\n` }, /^a\.yaml: parent: "nope" is not in the catalog/],
        ["cycle", { "a.yaml": `name: a\nversion: "1"\nparent: b\n`, "b.yaml": `name: b\nversion: "1"\nparent: a\n` }, /parent: cycle a → b → a|parent: cycle b → a → b/],
        ["neither parent nor source", { "a.yaml": `name: a\nversion: "1"\n` }, /^a\.yaml: needs `parent`/],
        ["both parent and source", { "a.yaml": `${BASE}parent: x\n` }, /^a\.yaml: has both `parent` and `source`/],
        ["file source outside the catalog (absolute)", { "a.yaml": `${BASE}files: [{path: /etc/x, source: /etc/passwd}]\n` }, /^a\.yaml: files\[0\]\.source: "\/etc\/passwd" must be relative to the catalog folder/],
        ["file source outside the catalog (..)", { "a.yaml": `${BASE}files: [{path: /etc/x, source: ../secret.txt}]\n` }, /^a\.yaml: files\[0\]\.source: "\.\.\/secret\.txt" must stay inside the catalog folder/],
        ["file source that does not exist", { "a.yaml": `${BASE}files: [{path: /etc/x, source: files/nope}]\n` }, /files\[0\]\.source: "files\/nope" does not exist in the catalog folder/],
        ["file with both content and source", { "a.yaml": `${BASE}files: [{path: /etc/x, content: hi, source: f}]\n` }, /files\[0\]: needs exactly one of `content` or `source`/],
        ["file path not absolute", { "a.yaml": `${BASE}files: [{path: etc/x, content: hi}]\n` }, /files\[0\]\.path: must be an absolute path in the image, got "etc\/x"/],
        ["file path with ..", { "a.yaml": `${BASE}files: [{path: /etc/../x, content: hi}]\n` }, /files\[0\]\.path: "\/etc\/\.\.\/x" must not contain `\.\.`/],
        ["boot: unknown key", { "a.yaml": `${BASE}boot: {kernal: linux-image-amd64}\n` }, /^a\.yaml: boot\.kernal: unknown key/],
        ["boot: kernel module with a shell metacharacter", { "a.yaml": `${BASE}boot: {initramfsModules: ["ext4;reboot"]}\n` }, /boot\.initramfsModules\[0\]: must be a kernel module name, got "ext4;reboot" \(it contains a shell metacharacter or space\)/],
        ["boot: time limit out of range", { "a.yaml": `${BASE}boot: {timeoutSeconds: 5}\n` }, /boot\.timeoutSeconds: must be a whole number from 30 to 7200/],
        ["boot: test not a boolean", { "a.yaml": `${BASE}boot: {test: maybe}\n` }, /boot\.test: must be/],
        ["malformed mode", { "a.yaml": `${BASE}files: [{path: /etc/x, content: hi, mode: "rwx"}]\n` }, /files\[0\]\.mode: must be an octal mode such as "0644", got "rwx"/],
        ["package name with a shell metacharacter", { "a.yaml": `${BASE}packages: ["vim; rm -rf /"]\n` }, /packages\[0\]: must be a package name, got "vim; rm -rf \/" \(it contains a shell metacharacter or space\)/],
        ["malformed package name", { "a.yaml": `${BASE}packages: ["-oops"]\n` }, /packages\[0\]: must be a package name, got "-oops"$/],
        ["malformed unit name", { "a.yaml": `${BASE}units: {enable: [apache2]}\n` }, /units\.enable\[0\]: must be a systemd unit name, got "apache2"/],
        ["unit with command substitution", { "a.yaml": `${BASE}units: {enable: ["$(reboot).service"]}\n` }, /units\.enable\[0\]: .* \(it contains a shell metacharacter or space\)/],
        ["malformed user name", { "a.yaml": `${BASE}users: [{name: "Bad User"}]\n` }, /users\[0\]\.name: must be a user name, got "Bad User"/],
        ["malformed group name", { "a.yaml": `${BASE}users: [{name: ok, groups: ["wheel&&x"]}]\n` }, /users\[0\]\.groups\[0\]: must be a group name, got "wheel&&x" \(it contains a shell metacharacter or space\)/],
        ["malformed SSH key", { "a.yaml": `${BASE}users: [{name: ok, sshKeys: ["not a key"]}]\n` }, /users\[0\]\.sshKeys\[0\]: must be an SSH public key line \(ssh-ed25519 AAAA…\), got "not a key"/],
        ["image name not usable as a repository", { "a.yaml": `name: My_Image\nversion: "1"\nsource: {rootfs: {suite: bookworm}}\n` }, /name: must be an image name \(lower case letters, digits, \. _ -\), got "My_Image"/],
        ["version not usable as a tag", { "a.yaml": `name: a\nversion: "1.0 beta"\nsource: {rootfs: {suite: bookworm}}\n` }, /version: must be a version \(usable as a tag\), got "1\.0 beta"/],
        ["unsupported distro", { "a.yaml": `name: a\nversion: "1"\nsource: {rootfs: {distro: arch, suite: x}}\n` }, /source\.rootfs\.distro: must be one of "debian", got "arch"/],
        ["bad source image reference", { "a.yaml": `name: a\nversion: "1"\nsource: {image: "rhel-bootc:9.6"}\n` }, /source\.image: must be an image reference host\/repository\[:tag\]\[@digest\], got "rhel-bootc:9\.6"/],
        ["test as a shell string", { "a.yaml": `${BASE}tests: [{name: t, run: "cat /etc/os-release"}]\n` }, /tests\[0\]\.run: must be a non-empty list of arguments \(a command, not a shell string\), got "cat \/etc\/os-release"/],
        ["test with two kinds", { "a.yaml": `${BASE}tests: [{name: t, run: [true], file: /x}]\n` }, /tests\[0\]: needs exactly one of `run`/],
        ["service test without a probe", { "a.yaml": `${BASE}tests: [{name: t, service: {start: [x]}}]\n` }, /tests\[0\]\.service: needs exactly one probe/],
        ["port out of range", { "a.yaml": `${BASE}tests: [{name: t, service: {start: [x], tcp: {port: 70000}}}]\n` }, /tests\[0\]\.service\.tcp\.port: must be a whole number from 1 to 65535/],
        ["DSA SSH key (OpenSSH disabled DSA)", { "a.yaml": `${BASE}users: [{name: ok, sshKeys: ["ssh-dss AAAAB3NzaC1kc3M= x"]}]\n` }, /users\[0\]\.sshKeys\[0\]: must be an SSH public key line/],
        ["source image given as a mapping", { "a.yaml": `name: a\nversion: "1"\nsource: {image: {ref: "bad ref"}}\n` }, /source\.image\.ref: must be an image reference/],
        ["refresh on a child image", { "a.yaml": `${BASE}`, "b.yaml": `name: b\nversion: "1"\nparent: base\nrefresh: {every: 7d}\n` }, /b\.yaml: refresh: applies to a root image \(one with `source`\)/],
        ["refresh period without a unit", { "a.yaml": `${BASE}refresh: {every: "7"}\n` }, /refresh\.every: must be a period in hours or days, such as 12h or 7d/],
        ["invalid label key", { "a.yaml": `${BASE}labels: {"Bad Key!": x}\n` }, /labels\.Bad Key!: the key must be a label key, got "Bad Key!"/],
    ];
    it.each(cases)("%s", (_what, files, expected) => {
        const found = problems(files);
        expect(found.some((p) => expected.test(p)), `expected a problem matching ${expected}, got:\n${found.join("\n")}`).toBe(true);
    });

    it("reports every problem at once, across files", () => {
        const found = problems({
            "a.yaml": `${BASE}packages: ["bad pkg"]\nunits: {enable: [nope]}\n`,
            "b.yaml": `name: b\nversion: "1"\nparent: missing\n`,
        });
        expect(found).toHaveLength(3);
        expect(found.map((p) => p.split(":")[0])).toEqual(["a.yaml", "a.yaml", "b.yaml"]);
    });

    it("an empty catalog is an error", () => {
        expect(problems({})).toEqual(["/cat: no image definitions (*.yaml) found"]);
    });

    it("accepts a valid file source inside the catalog", () => {
        expect(problems({ "a.yaml": `${BASE}files: [{path: /etc/x, source: files/x.txt}]\n` }, ["files/x.txt"])).toEqual([]);
    });
});

describe("the demo catalog", () => {
    const catalog = loadCatalog(path.join(ROOT, "images"));

    it("is a tree: base → httpd → homepage, base → database, base → edge-node, in build order", () => {
        expect(catalog.order).toEqual(["base", "database", "edge-node", "httpd", "homepage"]);
        expect(lineage(catalog, "homepage").map((i) => i.name)).toEqual(["base", "httpd", "homepage"]);
    });

    it("selects an image together with its ancestors; unknown names are errors", () => {
        expect(selectImages(catalog, ["homepage"])).toEqual(["base", "httpd", "homepage"]);
        expect(() => selectImages(catalog, ["homepage", "nginx"])).toThrow(/images\.select: "nginx" is not in the catalog \(known: base, database, edge-node, httpd, homepage\)/);
    });
});

describe("content-addressed identity", () => {
    const dir = path.join(ROOT, "images");
    const catalog = loadCatalog(dir);
    const hashes = (c = catalog, customizations = {}) =>
        Object.fromEntries([...resolveImages(c, c.order, customizations)].map(([n, r]) => [n, r.definitionHash]));
    const withChange = (file: string, edit: (text: string) => string) => {
        const files = catalog.order.map((n) => {
            const f = catalog.images.get(n)!.file;
            const text = require("node:fs").readFileSync(path.join(ROOT, f), "utf8");
            return { file: f, text: f === file ? edit(text) : text };
        });
        return parseCatalog(dir, files, (rel) => require("node:fs").readFileSync(path.join(dir, rel)));
    };

    it("is stable: the same definition hashes the same", () => {
        expect(hashes()).toEqual(hashes());
        for (const h of Object.values(hashes())) expect(h).toMatch(/^sha256:[a-f0-9]{64}$/);
    });

    it("a change to homepage changes homepage's hash only", () => {
        const before = hashes();
        const after = hashes(withChange("images/homepage.yaml", (t) => t.replace('version: "1.0.0"', 'version: "1.0.1"')));
        expect(Object.keys(before).filter((n) => before[n] !== after[n])).toEqual(["homepage"]);
    });

    it("a change to base changes every image's hash", () => {
        const before = hashes();
        const after = hashes(withChange("images/base.yaml", (t) => t.replace("packages: [sudo, ca-certificates]", "packages: [sudo, ca-certificates, less]")));
        expect(Object.keys(before).filter((n) => before[n] !== after[n]).sort()).toEqual(["base", "database", "edge-node", "homepage", "httpd"]);
    });

    it("a change to httpd changes httpd and homepage, not base or database", () => {
        const before = hashes();
        const after = hashes(withChange("images/httpd.yaml", (t) => t.replace("It works.", "It works!")));
        expect(Object.keys(before).filter((n) => before[n] !== after[n]).sort()).toEqual(["homepage", "httpd"]);
    });

    it("a site customization changes that image and its descendants", () => {
        const before = hashes();
        const after = hashes(catalog, { httpd: { labels: { "site.example.com/rack": "r12" } } });
        expect(Object.keys(before).filter((n) => before[n] !== after[n]).sort()).toEqual(["homepage", "httpd"]);
    });

    it("tests are not part of the identity (changing a test does not rebuild)", () => {
        const before = hashes();
        const after = hashes(withChange("images/httpd.yaml", (t) => t.replace("name: apache configuration is valid", "name: apache config ok")));
        expect(after).toEqual(before);
    });

    it("customizations are validated with the config key", () => {
        expect(() => resolveImages(catalog, catalog.order, { nginx: { packages: ["x"] } })).toThrow(/image-factory:images\.customizations\.nginx: "nginx" is not in the catalog/);
        expect(() => resolveImages(catalog, catalog.order, { httpd: { files: [{ path: "/x", source: "../../etc/shadow" }] } })).toThrow(
            /image-factory:images\.customizations\.httpd\.files\[0\]\.source: "\.\.\/\.\.\/etc\/shadow" must stay inside the catalog folder/,
        );
        expect(() => resolveImages(catalog, catalog.order, { httpd: { packages: ["a b"] } })).toThrow(/image-factory:images\.customizations\.httpd\.packages\[0\]: must be a package name, got "a b" \(it contains a shell metacharacter or space\)/);
    });
});

describe("boot settings are inherited", () => {
    const catalog = parseCatalog(
        "/cat",
        [
            { file: "base.yaml", text: `${BASE}boot: {kernel: linux-image-cloud-amd64, initramfsModules: [virtio_blk, ext4]}\n` },
            { file: "net.yaml", text: `name: net\nversion: "1"\nparent: base\nboot: {initramfsModules: [squashfs], timeoutSeconds: 300}\n` },
            { file: "app.yaml", text: `name: app\nversion: "1"\nparent: net\nboot: {test: false}\n` },
            { file: "plain.yaml", text: `name: plain\nversion: "1"\nsource: {rootfs: {suite: bookworm}}\n` },
        ],
        () => {
            throw new Error("does not exist in the catalog folder");
        },
    );
    const resolved = resolveImages(catalog, selectImages(catalog, ["app", "plain"]));

    it("a child of a kernel image is bootable, with every module of its chain", () => {
        expect(resolved.get("base")!.boot).toEqual({ kernel: "linux-image-cloud-amd64", initramfsModules: ["ext4", "virtio_blk"], test: true, timeoutSeconds: null });
        expect(resolved.get("net")!.boot).toEqual({ kernel: "linux-image-cloud-amd64", initramfsModules: ["ext4", "squashfs", "virtio_blk"], test: true, timeoutSeconds: 300 });
    });
    it("boot.test: false opts out; an image without a kernel is not booted", () => {
        expect(resolved.get("app")!.boot.test).toBe(false);
        expect(resolved.get("plain")!.boot).toEqual({ kernel: null, initramfsModules: [], test: false, timeoutSeconds: null });
    });
    it("the kernel image installs the kernel after its initramfs hook; a child adding modules makes the initramfs again", () => {
        const base = resolved.get("base")!;
        const cf = base.containerfile;
        expect(cf.indexOf("/etc/initramfs-tools/hooks/image-factory-modules")).toBeLessThan(cf.indexOf("linux-image-cloud-amd64"));
        expect(cf).toMatch(/apt-get install .*initramfs-tools linux-image-cloud-amd64/);
        expect(cf).toContain("RUN systemctl enable image-factory-boot-report.service");
        expect(base.context.get("boot/initramfs-hook")!.toString()).toContain("for m in ext4 virtio_blk; do force_load");
        const net = resolved.get("net")!;
        expect(net.containerfile).toMatch(/COPY .*boot\/initramfs-hook .*\nRUN update-initramfs -u -k all/);
        expect(net.context.get("boot/initramfs-hook")!.toString()).toContain("for m in ext4 squashfs virtio_blk; do");
        expect(resolved.get("app")!.containerfile).not.toContain("initramfs");
    });
});
