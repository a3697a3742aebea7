// Renderers are pure; their output is kept as readable snapshot files.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { type FileSpec, loadCatalog } from "../../components/images/catalog";
import { fileBytes, resolveImages } from "../../components/images/definition";
import { renderBlueprint } from "../../components/images/render/blueprint";
import { renderKiwiRecipe } from "../../components/images/render/kiwi";
import { renderTestScript } from "../../components/images/render/test-script";

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

describe("test script (for the in-cluster pipeline)", () => {
    it("homepage and database", async () => {
        for (const name of ["base", "database"]) {
            await expect(renderTestScript(resolved.get(name)!.def.tests)).toMatchFileSnapshot(snap(`${name}.tests.sh`));
        }
    });

    it("is valid POSIX sh, and runs: passes what holds, fails what does not, quoting every value", async () => {
        const { run } = await import("../../components/exec");
        const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "if-ts-")), "present");
        await fs.writeFile(file, "x", { mode: 0o644 });
        await fs.chmod(file, 0o644);
        const script = renderTestScript([
            { name: "true", kind: "command", run: ["true"], exitCode: 0 },
            { name: "quoted $(reboot)", kind: "command", run: ["echo", "it's $(not) run"], exitCode: 0, stdoutContains: "$(not)" },
            { name: "wrong exit", kind: "command", run: ["false"], exitCode: 0 },
            { name: "a file", kind: "file", path: file, mode: "0644", contains: "x" },
            { name: "missing", kind: "file", path: "/nope/x" },
        ]);
        await run("sh", ["-n", "-c", script]);
        const r = await run("sh", ["-c", script], { okCodes: [0, 1] });
        expect(r.exitCode).toBe(1);
        expect(r.stdout.split("\n").filter(Boolean)).toEqual([
            "ok - true",
            "ok - quoted $(reboot)",
            "not ok - wrong exit: exit 1, expected 0: ",
            "ok - a file",
            "not ok - missing: not a file",
        ]);
    });
});
