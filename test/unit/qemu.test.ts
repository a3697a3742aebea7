import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ACCEL_ENV, consoleTail, detectAccel, qemuArgs, startVm } from "../../components/qemu";

describe("qemu arguments", () => {
    const spec = {
        name: "node",
        serialLog: "/tmp/node.log",
        drives: [
            { file: "/d/root,1.qcow2", format: "qcow2" as const },
            { file: "/d/prestage.raw", format: "raw" as const, readOnly: true },
        ],
        kernel: { kernel: "/d/vmlinuz", initrd: "/d/initrd", cmdline: "root=/dev/vda1 console=ttyS0" },
        forwardPorts: [80, 22],
    };

    it("forwards guest ports from 127.0.0.1 only, and the guest reaches nothing outside", () => {
        const args = qemuArgs(spec, "tcg", { 80: 40080, 22: 40022 });
        const netdev = args[args.indexOf("-netdev") + 1];
        expect(netdev).toBe("user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:80");
        expect(args.join(" ")).not.toMatch(/hostfwd=tcp::|0\.0\.0\.0/);
    });

    it("boots the kernel directly, with the disks as virtio drives in order (commas in paths escaped)", () => {
        const args = qemuArgs(spec, "tcg", {});
        expect(args.filter((_, i) => args[i - 1] === "-drive")).toEqual(["file=/d/root,,1.qcow2,format=qcow2,if=virtio", "file=/d/prestage.raw,format=raw,if=virtio,readonly=on"]);
        expect(args.slice(args.indexOf("-kernel"), args.indexOf("-kernel") + 6)).toEqual(["-kernel", "/d/vmlinuz", "-initrd", "/d/initrd", "-append", "root=/dev/vda1 console=ttyS0"]);
        expect(args).toEqual(expect.arrayContaining(["-serial", "stdio", "-no-reboot", "-nodefaults"]));
    });

    it("uses the host CPU under KVM only", () => {
        expect(qemuArgs(spec, "kvm", {}).join(" ")).toContain("-accel kvm -cpu host");
        expect(qemuArgs(spec, "tcg", {})).not.toContain("-cpu");
    });
});

describe("accelerator", () => {
    it("is forced by the environment, and a wrong value is an error naming the variable", async () => {
        const before = process.env[ACCEL_ENV];
        try {
            process.env[ACCEL_ENV] = "tcg";
            await expect(detectAccel()).resolves.toBe("tcg");
            process.env[ACCEL_ENV] = "hvf";
            await expect(detectAccel()).rejects.toThrow(`${ACCEL_ENV} must be "kvm" or "tcg", got "hvf"`);
        } finally {
            if (before === undefined) delete process.env[ACCEL_ENV];
            else process.env[ACCEL_ENV] = before;
        }
    });
});

describe("console tail", () => {
    it("drops terminal escapes and carriage returns, keeps the last lines", () => {
        const text = "\x1b[0;32m  OK  \x1b[0m] Started a.service\r\nline 2\r\nline 3\r\n\r\n";
        expect(consoleTail(text, 2)).toBe("line 2\nline 3");
        expect(consoleTail(text)).toBe("  OK  ] Started a.service\nline 2\nline 3");
    });
});

describe("a VM that cannot start", () => {
    it("fails with qemu's own message and where the console log is", async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-qemu-test-"));
        try {
            const disk = path.join(dir, "root.qcow2");
            await fs.writeFile(disk, Buffer.alloc(1024 * 1024)); // raw bytes, not a qcow2
            await expect(startVm({ name: "node", serialLog: path.join(dir, "c.log"), drives: [{ file: path.join(dir, "missing.raw"), format: "raw" }] })).rejects.toThrow(
                `node: disk ${path.join(dir, "missing.raw")} does not exist`,
            );
            const vm = await startVm({ name: "node", serialLog: path.join(dir, "c.log"), drives: [{ file: disk, format: "qcow2" }], accel: "tcg" });
            const err = (await vm.waitFor(/login:/, 60_000, "a login prompt").catch((e) => e)) as Error;
            expect(err.message).toMatch(/^node: qemu exited \(code 1\) before a login prompt \(tcg\); console \(.*c\.log\), last lines:\n/);
            expect(err.message).toMatch(/Image is not in qcow2 format/);
        } finally {
            await fs.rm(dir, { recursive: true, force: true });
        }
    });
});
