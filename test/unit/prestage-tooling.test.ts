import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { DEFAULT_MOUNT_POINT, deviceUnitName, mountUnitName, NODE_LOAD_SCRIPT, renderIgnition, renderLoadList, renderLoadScript, renderSystemdUnits } from "../../components/prestage/tooling";

const ROOT = path.resolve(__dirname, "../..");

const D = `sha256:${"ab".repeat(32)}`;

describe("load tooling", () => {
    it("lists archives with the ref to load and the tag to add", () => {
        expect(
            renderLoadList([
                { archive: "ai-images/demo_httpd_abab.tar", ref: `127.0.0.1:5000/demo/httpd@${D}` },
                { archive: "ocp-images/x.tar", ref: `quay.io/x/y@${D}`, tagged: "quay.io/x/y:4.16" },
            ]),
        ).toBe(
            [
                "# <archive> <ref by digest> [<tag to add>] - read by prestage-load.sh",
                `ai-images/demo_httpd_abab.tar 127.0.0.1:5000/demo/httpd@${D}`,
                `ocp-images/x.tar quay.io/x/y@${D} quay.io/x/y:4.16`,
                "",
            ].join("\n"),
        );
        expect(() => renderLoadList([{ archive: "a b.tar", ref: "x" }])).toThrow(/cannot read/);
    });

    it("the load script is POSIX sh (dash parses it), skips what storage has, logs, and fails when a load fails", async () => {
        const script = renderLoadScript();
        expect(script.startsWith("#!/bin/sh\n")).toBe(true);
        await run("dash", ["-n"], { input: script });
        await run("sh", ["-n"], { input: script });
        expect(script).toContain('"$skopeo" inspect --raw "$storage$ref"');
        expect(script).toContain('log "loaded $ref from $archive"');
        expect(script).toContain('log "$loaded loaded, $present already present, $failed failed"');
        // Each image is checked in storage by the sha256 of its manifest, and what was loaded is synced.
        expect(script).toContain('stored=$("$skopeo" inspect --raw "$storage$ref" 2>/dev/null | sha256sum)');
        expect(script).toContain('log "in storage $ref $stored"');
        expect(script).toContain('[ "$loaded" -eq 0 ] || sync\n');
        expect(script).toMatch(/\[ "\$failed" -eq 0 \]\n$/);
        expect(script).not.toMatch(/\bbash\b|\[\[|\bfunction\b|\blocal\b/);
    });

    it("names mount units as systemd-escape --path does", () => {
        expect(mountUnitName("/var/mnt/prestage")).toBe("var-mnt-prestage.mount");
        expect(mountUnitName("/var/mnt/pre-staged/")).toBe("var-mnt-pre\\x2dstaged.mount");
        expect(deviceUnitName("/dev/disk/by-partlabel/data")).toBe("dev-disk-by\\x2dpartlabel-data.device");
    });

    it("units mount the partition read-only by label and run the script once, before the container runtime", () => {
        const [mount, service] = renderSystemdUnits({ label: "data", filesystem: "xfs", mountPoint: "/var/mnt/prestage" });
        expect(mount.name).toBe("var-mnt-prestage.mount");
        expect(mount.contents).toContain("What=/dev/disk/by-partlabel/data\nWhere=/var/mnt/prestage\nType=xfs\nOptions=ro,nodev,nosuid\n");
        expect(service.name).toBe("prestage-load.service");
        expect(service.enabled).toBe(true);
        expect(service.contents).toContain("Requires=var-mnt-prestage.mount\n");
        expect(service.contents).toContain("Before=crio.service kubelet.service\n");
        expect(service.contents).toContain("Type=oneshot\nRemainAfterExit=yes\nEnvironment=PRESTAGE_DIR=/var/mnt/prestage\n");
        expect(service.contents).toContain("Environment=TMPDIR=/var/tmp\nExecStart=/bin/sh /var/mnt/prestage/prestage-load.sh\n");
        expect(service.contents).toContain("StandardOutput=journal+console\n");
        // Wanted by the partition's device, not by a target: a node without the disk waits for nothing.
        expect(service.contents).toMatch(/\[Install\]\n(#.*\n)*WantedBy=dev-disk-by\\x2dpartlabel-data\.device\n$/);
    });

    it("the edge-node catalog image carries the units a disk with the defaults has (label data, xfs, /var/mnt/prestage), enabled, and runs its own copy of the load script", async () => {
        const catalog = await fs.readFile(path.join(ROOT, "images/edge-node.yaml"), "utf8");
        expect(await fs.readFile(path.join(ROOT, "images/files/prestage/prestage-load.sh"), "utf8")).toBe(renderLoadScript());
        expect(catalog).toContain(`- path: ${NODE_LOAD_SCRIPT}\n    source: files/prestage/prestage-load.sh\n    mode: "0755"\n`);
        const units = renderSystemdUnits({ label: "data", filesystem: "xfs", mountPoint: DEFAULT_MOUNT_POINT, script: NODE_LOAD_SCRIPT });
        expect(units.find((u) => u.name === "prestage-load.service")!.contents).toContain(`ExecStart=/bin/sh ${NODE_LOAD_SCRIPT}\n`);
        for (const u of units) {
            expect(await fs.readFile(path.join(ROOT, "images/files/prestage", u.name), "utf8"), u.name).toBe(u.contents);
            expect(catalog).toContain(`- path: /etc/systemd/system/${u.name}\n    source: files/prestage/${u.name}\n`);
        }
        expect(catalog).toContain("units:\n  enable: [prestage-load.service]\n");
        expect(catalog).toMatch(/\npackages: \[skopeo\b/);
    });

    it.skipIf(!existsSync("/usr/bin/systemd-analyze"))("systemd-analyze verify accepts both units", async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-units-"));
        try {
            const units = renderSystemdUnits({ label: "data", filesystem: "xfs", mountPoint: "/var/mnt/prestage" });
            for (const u of units) await fs.writeFile(path.join(dir, u.name), u.contents);
            const r = await run("systemd-analyze", ["verify", "--man=no", ...units.map((u) => path.join(dir, u.name))]);
            expect(r.stderr.trim()).toBe("");
        } finally {
            await fs.rm(dir, { recursive: true, force: true });
        }
    });

    it("the ignition snippet (spec 3.2.0) installs both units and enables the service", () => {
        const ign = JSON.parse(renderIgnition({ label: "data", filesystem: "ext4", mountPoint: "/var/mnt/prestage" }));
        expect(ign.ignition).toEqual({ version: "3.2.0" });
        expect(ign.systemd.units.map((u: any) => [u.name, u.enabled])).toEqual([
            ["var-mnt-prestage.mount", undefined],
            ["prestage-load.service", true],
        ]);
        expect(ign.systemd.units[0].contents).toContain("Type=ext4");
    });
});
