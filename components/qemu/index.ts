// qemu-system-x86_64 as the factory boots what it makes: KVM where a guest
// really runs on it, TCG otherwise (chosen once per process); user-mode
// networking with no route out of the guest and forwarded ports bound to
// 127.0.0.1 only; the serial console (ttyS0) kept in a log file whose tail goes
// into every error. Runs through components/exec with argument arrays.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startBackground } from "../exec";
import { freePort } from "../net";

export type Accel = "kvm" | "tcg";
/** Forces the accelerator (`kvm` or `tcg`) instead of detecting it. */
export const ACCEL_ENV = "IMAGE_FACTORY_QEMU_ACCEL";
const QEMU = "qemu-system-x86_64";
const TAIL_LINES = 40;

export interface Drive {
    file: string;
    format: "raw" | "qcow2";
    /** The guest cannot write to it. */
    readOnly?: boolean;
    /** The guest writes to a temporary overlay, dropped when qemu exits. */
    snapshot?: boolean;
}

export interface VmSpec {
    /** For messages and qemu's process name. */
    name: string;
    /** The serial console and qemu's own messages go here (appended). */
    serialLog: string;
    /** virtio disks, /dev/vda, /dev/vdb, … in this order. */
    drives: Drive[];
    /** Direct kernel boot; without it the firmware boots the first drive. */
    kernel?: { kernel: string; initrd?: string; cmdline: string };
    memoryMiB?: number;
    cpus?: number;
    /** Guest TCP ports the host reaches at 127.0.0.1:<ports[guestPort]>. */
    forwardPorts?: number[];
    /** Default: detectAccel(). */
    accel?: Accel;
}

export interface Vm {
    accel: Accel;
    /** Guest port → host port on 127.0.0.1. */
    ports: Record<number, number>;
    serialLog: string;
    startedAt: number;
    /** The console so far. */
    console(): Promise<string>;
    /** Resolves with the first match of `pattern` on the console; rejects (with the console's tail) when qemu exits first or time runs out. */
    waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray>;
    /** Resolves with qemu's exit code when the guest powers off (qemu runs with -no-reboot). */
    exited: Promise<number | null>;
    /** Waits for the guest to power off by itself; rejects with the console's tail after `timeoutMs`. */
    waitForExit(timeoutMs: number, what: string): Promise<number | null>;
    /** Stops qemu (the guest gets no shutdown). */
    stop(): Promise<void>;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the serial console carries terminal escapes
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;

/** The last lines of a console log, without the terminal escapes (colours, cursor moves) guests print. */
export function consoleTail(text: string, lines = TAIL_LINES): string {
    return text.replace(ESCAPES, "").trimEnd().split("\n").slice(-lines).join("\n");
}

/** qemu's arguments for `spec` (pure). */
export function qemuArgs(spec: VmSpec, accel: Accel, hostPorts: Record<number, number>): string[] {
    const args = ["-name", spec.name, "-machine", "q35", "-accel", accel, ...(accel === "kvm" ? ["-cpu", "host"] : [])];
    args.push("-m", String(spec.memoryMiB ?? 1024), "-smp", String(spec.cpus ?? 1));
    args.push("-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot");
    // restrict=on: the guest reaches nothing outside; the forwards still work, on loopback only.
    const fwd = Object.entries(hostPorts).map(([guest, host]) => `,hostfwd=tcp:127.0.0.1:${host}-:${guest}`);
    args.push("-netdev", `user,id=net0,restrict=on${fwd.join("")}`, "-device", "virtio-net-pci,netdev=net0");
    args.push("-device", "virtio-rng-pci");
    for (const d of spec.drives) {
        const opts = [`file=${d.file.replace(/,/g, ",,")}`, `format=${d.format}`, "if=virtio", ...(d.readOnly ? ["readonly=on"] : []), ...(d.snapshot ? ["snapshot=on"] : [])];
        args.push("-drive", opts.join(","));
    }
    if (spec.kernel) {
        args.push("-kernel", spec.kernel.kernel, ...(spec.kernel.initrd ? ["-initrd", spec.kernel.initrd] : []), "-append", spec.kernel.cmdline);
    }
    return args;
}

let detected: Promise<Accel> | undefined;

/**
 * KVM when /dev/kvm can be opened and a guest on it really runs (its firmware
 * reaches the boot menu within 20 s: on some hosts KVM guests hang); TCG
 * otherwise. Decided once per process; $IMAGE_FACTORY_QEMU_ACCEL overrides.
 */
export function detectAccel(): Promise<Accel> {
    const forced = process.env[ACCEL_ENV];
    if (forced === "kvm" || forced === "tcg") return Promise.resolve(forced);
    if (forced) return Promise.reject(new Error(`${ACCEL_ENV} must be "kvm" or "tcg", got ${JSON.stringify(forced)}`));
    detected ??= (async (): Promise<Accel> => {
        try {
            const h = await fs.open("/dev/kvm", "r+");
            await h.close();
        } catch {
            return "tcg";
        }
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-kvm-probe-"));
        try {
            const log = path.join(dir, "firmware.log");
            // SeaBIOS writes its progress to the debug port; "Booting from" means the guest ran.
            const probe = startBackground(
                QEMU,
                [
                    "-accel",
                    "kvm",
                    "-m",
                    "64",
                    "-nodefaults",
                    "-no-user-config",
                    "-display",
                    "none",
                    "-monitor",
                    "none",
                    "-no-reboot",
                    "-chardev",
                    `file,id=fw,path=${log}`,
                    "-device",
                    "isa-debugcon,iobase=0x402,chardev=fw",
                ],
                { logFile: path.join(dir, "qemu.log") },
            );
            let ran = false;
            for (let waited = 0; waited < 20_000 && !ran; waited += 250) {
                await new Promise((r) => setTimeout(r, 250));
                ran = /Booting from|No bootable device/.test(await fs.readFile(log, "utf8").catch(() => ""));
            }
            await probe.stop();
            return ran ? "kvm" : "tcg";
        } finally {
            await fs.rm(dir, { recursive: true, force: true });
        }
    })();
    return detected;
}

/** Starts a VM. Stop it (or wait for it to power off) in a `finally`. */
export async function startVm(spec: VmSpec): Promise<Vm> {
    const accel = spec.accel ?? (await detectAccel());
    const ports: Record<number, number> = {};
    for (const guest of spec.forwardPorts ?? []) ports[guest] = await freePort();
    for (const d of spec.drives) await fs.access(d.file).catch(() => Promise.reject(new Error(`${spec.name}: disk ${d.file} does not exist`)));
    await fs.mkdir(path.dirname(spec.serialLog), { recursive: true });
    const proc = startBackground(QEMU, qemuArgs(spec, accel, ports), { logFile: spec.serialLog });
    const startedAt = Date.now();
    let exitCode: number | null | undefined;
    const exited = proc.exited.then((c) => (exitCode = c));
    const consoleText = () => fs.readFile(spec.serialLog, "utf8").catch(() => "");
    const failure = async (why: string) => new Error(`${spec.name}: ${why} (${accel}); console (${spec.serialLog}), last lines:\n${consoleTail(await consoleText())}`);
    return {
        accel,
        ports,
        serialLog: spec.serialLog,
        startedAt,
        console: consoleText,
        exited,
        async waitFor(pattern, timeoutMs, what) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const m = pattern.exec(await consoleText());
                if (m) return m;
                if (exitCode !== undefined) throw await failure(`qemu exited (code ${exitCode}) before ${what}`);
                if (Date.now() > deadline) throw await failure(`no ${what} within ${Math.round(timeoutMs / 1000)}s`);
                await Promise.race([exited, new Promise((r) => setTimeout(r, 500))]);
            }
        },
        async waitForExit(timeoutMs, what) {
            const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
            if ((await Promise.race([exited, timer])) === "timeout") {
                await proc.stop();
                throw await failure(`did not power off within ${Math.round(timeoutMs / 1000)}s ${what}`);
            }
            return exitCode ?? null;
        },
        stop: () => proc.stop(),
    };
}
