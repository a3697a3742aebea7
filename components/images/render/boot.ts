// What makes a catalog image bootable: the kernel package with initramfs-tools,
// an initramfs hook that carries (and loads) the modules the catalog names, and
// the boot report that the boot test reads from the serial console. All pure.
import type { BootSpec, ImageDefinition, PackageManager } from "../catalog";

/** The boot settings an image ends up with: its own over its ancestors'. */
export interface ResolvedBoot {
    /** The kernel package of the nearest ancestor (or the image) that installs one. */
    kernel: string | null;
    /** Every module the chain asks the initramfs to load, sorted. */
    initramfsModules: string[];
    /** Boot-tested before release: has a kernel, and not turned off by `boot.test: false`. */
    test: boolean;
    timeoutSeconds: number | null;
}

/** Context files of a bootable image's build. */
export const BOOT_CONTEXT = {
    hook: "boot/initramfs-hook",
    report: "boot/boot-report",
    unit: "boot/boot-report.service",
} as const;
/** Where they go in the image. */
export const INITRAMFS_HOOK: Record<PackageManager, string> = {
    apt: "/etc/initramfs-tools/hooks/image-factory-modules",
    dnf: "/etc/dracut.conf.d/50-image-factory-modules.conf",
};
export const BOOT_REPORT = "/usr/libexec/image-factory/boot-report";
export const BOOT_REPORT_UNIT = "image-factory-boot-report.service";
/** The kernel command line word that turns the boot report on (its value: the boot test's nonce). */
export const BOOT_REPORT_PARAM = "image-factory.boot-report";
/** The line the boot report prints on the console. */
export const BOOT_REPORT_MARKER = "IMAGE-FACTORY-BOOT-REPORT";

export function resolveBoot(chain: ImageDefinition[]): ResolvedBoot {
    let kernel: string | null = null;
    let test: boolean | undefined;
    let timeoutSeconds: number | null = null;
    const modules = new Set<string>();
    for (const img of chain) {
        const b: BootSpec | undefined = img.boot;
        if (!b) continue;
        if (b.kernel) kernel = b.kernel;
        for (const m of b.initramfsModules) modules.add(m);
        if (b.test !== undefined) test = b.test;
        if (b.timeoutSeconds !== undefined) timeoutSeconds = b.timeoutSeconds;
    }
    return { kernel, initramfsModules: [...modules].sort(), test: kernel !== null && test !== false, timeoutSeconds };
}

/**
 * An initramfs-tools hook: copies the modules into the initramfs and lists them
 * in conf/modules, so that the initramfs loads them before it mounts the root
 * (virtio disks, ext4, and the squashfs + overlay root of network boot).
 */
export function renderInitramfsHook(modules: string[], pm: PackageManager): string {
    if (pm === "dnf") return `# image-factory: modules the initramfs carries and loads (catalog key boot.initramfsModules).\nforce_drivers+=" ${modules.join(" ")} "\n`;
    return [
        "#!/bin/sh",
        "# image-factory: modules the initramfs carries and loads (catalog key boot.initramfsModules).",
        'PREREQ=""',
        'case "$1" in prereqs) echo "$PREREQ"; exit 0 ;; esac',
        ". /usr/share/initramfs-tools/hook-functions",
        `for m in ${modules.join(" ")}; do force_load "$m"; done`,
        "",
    ].join("\n");
}

/**
 * The boot report: once systemd has finished starting up (or given up), one
 * line with the system state, the default target and the failed units, after
 * the status of each failed unit. Only when the kernel command line asks.
 */
export function renderBootReport(): string {
    return `#!/bin/sh
# image-factory boot report, for the boot test (kernel command line ${BOOT_REPORT_PARAM}=<nonce>).
nonce=$(sed -n 's/.*${BOOT_REPORT_PARAM.replace(".", "\\.")}=\\([A-Za-z0-9]*\\).*/\\1/p' /proc/cmdline)
state=$(systemctl is-system-running --wait)
target=$(systemctl get-default)
active=$(systemctl is-active "$target")
failed=$(systemctl list-units --state=failed --plain --no-legend --no-pager | while read -r unit rest; do printf '%s,' "$unit"; done)
for unit in $(echo "$failed" | tr ',' ' '); do systemctl status --no-pager --lines=15 "$unit"; done
read -r uptime idle < /proc/uptime
echo "${BOOT_REPORT_MARKER} nonce=$nonce state=$state target=$target active=$active uptime=$uptime failed=$failed"
`;
}

export function renderBootReportUnit(): string {
    return `[Unit]
Description=image-factory boot report on the console
ConditionKernelCommandLine=${BOOT_REPORT_PARAM}

[Service]
# simple, not oneshot: the start-up it waits for must not wait for it.
Type=simple
ExecStart=${BOOT_REPORT}
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;
}

/** The boot files of an image's build context (empty when the image adds nothing to boot). */
export function bootContext(def: ImageDefinition, boot: ResolvedBoot, pm: PackageManager): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    if (!def.boot?.kernel && !def.boot?.initramfsModules.length) return out;
    if (boot.initramfsModules.length) out.set(BOOT_CONTEXT.hook, Buffer.from(renderInitramfsHook(boot.initramfsModules, pm)));
    if (def.boot?.kernel) {
        out.set(BOOT_CONTEXT.report, Buffer.from(renderBootReport()));
        out.set(BOOT_CONTEXT.unit, Buffer.from(renderBootReportUnit()));
    }
    return out;
}
