// BootTest: the gate between an image's tests and its release. The image's VM
// disk is booted with components/qemu (KVM when a guest runs on it here, else
// TCG) straight from the kernel and initrd beside it, on a throw-away overlay
// (the disk is not changed), with user-mode networking that reaches nothing and
// forwards only 127.0.0.1 ports. It passes when systemd reaches the default target with no
// failed unit (the image's boot report says so on the serial console) and each
// HTTP/TCP probe answers through its forwarded port. A failure fails the `up`
// with the console's last lines; the serial log stays beside the disk.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import type { ProviderImpl } from "../dynamic";
import { changedKeys, isUnknown, diffOn } from "../dynamic";
import { consoleTail, startVm } from "../qemu";
import { BOOT_REPORT_MARKER, BOOT_REPORT_PARAM } from "./render/boot";
import { FactoryError } from "../errors";

export const ACCELS = ["auto", "kvm", "tcg"] as const;
export type Accel = (typeof ACCELS)[number];

export interface BootProbe {
    name: string;
    http?: { port: number; path: string; status: number; contains?: string };
    tcp?: { port: number };
}

export interface BootTestInputs {
    image: string;
    /** The image booted, host/repo@sha256:… (what passes on to the release). */
    ref: string;
    disk: { path: string; format: "raw" | "qcow2"; sha256: string };
    kernel: string;
    initrd: string;
    kernelArgs: string;
    probes: BootProbe[];
    timeoutSeconds: number;
    memoryMiB: number;
    accel: Accel;
    /** Where the serial console is written (kept after the boot). */
    serialLog: string;
}

export interface BootResult {
    /** The default target became active. */
    targetReached: boolean;
    target: string;
    /** `systemctl is-system-running` after start-up: running or degraded. */
    state: string;
    failedUnits: string[];
    /** From starting qemu to the boot report. */
    seconds: number;
    /** The guest's own uptime at the boot report. */
    guestSeconds: number;
    accel: "kvm" | "tcg";
    probes: Array<{ name: string; passed: boolean; detail: string }>;
}

export interface BootTestOutputs extends BootTestInputs {
    /** The digest that booted: what the release and the children use. */
    digest: string;
    result: BootResult;
}

export class BootFailure extends FactoryError {
    constructor(image: string, ref: string, reason: string, serialLog: string, tail: string) {
        super(`${image}: boot test failed for ${ref}: ${reason}; nothing is released for it or its descendants.\nSerial console (last lines of ${serialLog}):\n${tail.replace(/^/gm, "  | ")}`);
        this.name = "BootFailure";
    }
}

/** Re-boot only when what boots, or what is checked, changes. */
const REBOOT_KEYS = ["ref", "disk", "kernel", "initrd", "kernelArgs", "probes"];

/** The boot report line with this boot's nonce, parsed. */
export function parseBootReport(console: string, nonce: string): Omit<BootResult, "seconds" | "accel" | "probes"> | undefined {
    const line = consoleTail(console, Number.MAX_SAFE_INTEGER)
        .split("\n")
        .find((l) => l.includes(`${BOOT_REPORT_MARKER} nonce=${nonce} `));
    if (!line) return undefined;
    const field = (k: string) => new RegExp(`\\b${k}=(\\S*)`).exec(line)?.[1] ?? "";
    return {
        state: field("state"),
        target: field("target"),
        targetReached: field("active") === "active",
        failedUnits: field("failed").split(",").filter(Boolean),
        guestSeconds: Number(field("uptime")) || 0,
    };
}

function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, timeout: 10_000 }, (r) => {
            let body = "";
            r.setEncoding("utf8");
            r.on("data", (d) => (body += d));
            r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("no answer in 10s")));
        req.on("error", reject);
    });
}

function tcpConnect(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1");
        // Through slirp the host side opens even when nothing listens in the guest, and is closed
        // right after: the service is there when it speaks first, or keeps the connection open.
        const held = setTimeout(() => {
            s.destroy();
            resolve();
        }, 3000);
        s.once("data", () => {
            clearTimeout(held);
            s.destroy();
            resolve();
        });
        s.once("error", (e) => {
            clearTimeout(held);
            reject(e);
        });
        s.once("close", () => {
            clearTimeout(held);
            reject(new Error("the connection was closed before the service answered"));
        });
    });
}

/** One probe against its forwarded port, retried until it passes or `deadline`. */
async function probe(p: BootProbe, hostPort: number, deadline: number): Promise<{ passed: boolean; detail: string }> {
    let last = "";
    do {
        try {
            if (p.tcp) {
                await tcpConnect(hostPort);
                return { passed: true, detail: `port ${p.tcp.port} answers (forwarded from 127.0.0.1:${hostPort})` };
            }
            const h = p.http!;
            const r = await httpGet(hostPort, h.path);
            const okBody = h.contains === undefined || r.body.includes(h.contains);
            const detail = `GET ${h.path} on port ${h.port} → ${r.status}${h.contains ? `, body ${okBody ? "contains" : "does not contain"} ${JSON.stringify(h.contains)}` : ""}`;
            if (r.status === h.status && okBody) return { passed: true, detail };
            last = `${detail} (expected ${h.status})`;
        } catch (e) {
            last = `not answering (${(e as Error).message})`;
        }
        await new Promise((r) => setTimeout(r, 2000));
    } while (Date.now() < deadline);
    return { passed: false, detail: last };
}

export async function bootTest(i: BootTestInputs, log: (l: string) => void = () => undefined): Promise<BootTestOutputs> {
    const nonce = randomBytes(8).toString("hex");
    const guestPort = (p: BootProbe) => (p.http ?? p.tcp)!.port;
    await fs.writeFile(i.serialLog, ""); // this boot's console only
    const vm = await startVm({
        name: `boot-${i.image}`,
        serialLog: i.serialLog,
        // snapshot: writes go to a temp overlay; the released disk stays as it is.
        drives: [{ file: i.disk.path, format: i.disk.format, snapshot: true }],
        kernel: { kernel: i.kernel, initrd: i.initrd, cmdline: `${i.kernelArgs} panic=-1 ${BOOT_REPORT_PARAM}=${nonce}` },
        memoryMiB: i.memoryMiB,
        forwardPorts: [...new Set(i.probes.map(guestPort))],
        accel: i.accel === "auto" ? undefined : i.accel,
    });
    const fail = async (reason: string) => new BootFailure(i.image, i.ref, reason, i.serialLog, consoleTail(await vm.console()));
    log(`booting ${i.disk.path} with ${vm.accel} (time limit ${i.timeoutSeconds}s); serial console: ${i.serialLog}`);
    try {
        const progress = setInterval(() => log(`booting (${vm.accel}), ${Math.round((Date.now() - vm.startedAt) / 1000)}s …`), 60_000);
        let report: ReturnType<typeof parseBootReport>;
        try {
            await vm.waitFor(new RegExp(`${BOOT_REPORT_MARKER} nonce=${nonce} [^\n]*\n`), i.timeoutSeconds * 1000, "the boot report");
            report = parseBootReport(await vm.console(), nonce);
        } catch (e) {
            const why = (e as Error).message.split("\n")[0].replace(`boot-${i.image}: `, "");
            throw await fail(`${why} (the time limit is image-factory:boot.timeoutSeconds, or the catalog's boot.timeoutSeconds)`);
        } finally {
            clearInterval(progress);
        }
        const seconds = Math.round((Date.now() - vm.startedAt) / 1000);
        if (!report) throw await fail("the boot report could not be read");
        log(`booted (${vm.accel}) in ${seconds}s: ${report.target} ${report.targetReached ? "reached" : "not reached"}, system ${report.state}, ${report.failedUnits.length} failed units`);
        if (!report.targetReached) throw await fail(`systemd did not reach its default target ${report.target} (system ${report.state})`);
        if (report.failedUnits.length) throw await fail(`${report.failedUnits.length} unit(s) failed at boot: ${report.failedUnits.join(", ")}`);
        // Services are up once start-up is over; a minute covers a slow first answer.
        const probes: BootResult["probes"] = [];
        const deadline = Date.now() + 60_000;
        for (const p of i.probes) {
            const r = await probe(p, vm.ports[guestPort(p)], deadline);
            log(`${r.passed ? "✓" : "✗"} ${p.name}: ${r.detail}`);
            probes.push({ name: p.name, ...r });
        }
        const failed = probes.filter((p) => !p.passed);
        if (failed.length) throw await fail(`${failed.length} of ${probes.length} service probes failed after boot:\n${failed.map((p) => `  ✗ ${p.name}: ${p.detail}`).join("\n")}`);
        return { ...i, digest: i.ref.split("@")[1], result: { ...report, seconds, accel: vm.accel, probes } };
    } finally {
        await vm.stop();
    }
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        const inputs = { ...news, accel: news.accel ?? "auto", memoryMiB: news.memoryMiB ?? 1024, timeoutSeconds: news.timeoutSeconds ?? 900 };
        if (!isUnknown(inputs.ref) && !(typeof inputs.ref === "string" && /@sha256:[a-f0-9]{64}$/.test(inputs.ref))) {
            failures.push({ property: "ref", reason: `the image booted must be referenced by digest, got ${JSON.stringify(inputs.ref)}` });
        }
        if (!isUnknown(inputs.accel) && !ACCELS.includes(inputs.accel)) failures.push({ property: "accel", reason: `accel must be one of ${ACCELS.join(", ")}, got ${JSON.stringify(inputs.accel)}` });
        const int = (k: string, min: number, max: number) => {
            const v = inputs[k];
            if (!isUnknown(v) && !(Number.isInteger(v) && v >= min && v <= max)) failures.push({ property: k, reason: `${k} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}` });
        };
        int("timeoutSeconds", 30, 7200);
        int("memoryMiB", 256, 65536);
        if (!isUnknown(inputs.probes) && !Array.isArray(inputs.probes)) failures.push({ property: "probes", reason: "probes must be a list" });
        return { inputs, failures };
    },
    diff: diffOn([], [...REBOOT_KEYS, "timeoutSeconds", "memoryMiB", "accel", "serialLog", "image"]),
    async create(inputs) {
        const i = inputs as BootTestInputs;
        const outs = await bootTest(i, (l) => console.log(`[boot ${i.image}] ${l}`));
        return { id: i.image, outs };
    },
    async update(_id, olds, news) {
        const n = news as BootTestInputs;
        // The same disk and checks: the earlier boot stands.
        if (changedKeys(olds, news, REBOOT_KEYS).length === 0) return { outs: { ...(olds as BootTestOutputs), ...n } };
        return { outs: await bootTest(n, (l) => console.log(`[boot ${n.image}] ${l}`)) };
    },
    async delete() {
        // A boot leaves nothing behind but its serial log, which goes with the disk's folder.
    },
};
