// image-factory:boot: the boot gate, where bootable images are made into VM disks
// and booted in qemu before release.
import { type DiskFormat, parseSize } from "../components/prestage";
import type { Section } from "./config";

/** image-factory:boot: how bootable images are made into VM disks and boot-tested before release. */
export interface BootConfig {
    enabled: boolean;
    /** Absolute folder for VM disks, kernels, initrds, manifests and serial logs. Default: <project>/.local/artifacts/vm-disks. */
    dir?: string;
    format: DiskFormat;
    /** Virtual size of each VM disk. */
    diskSize: string;
    /** Time limit for one boot, in seconds (a catalog image's boot.timeoutSeconds wins). */
    timeoutSeconds: number;
    memoryMiB: number;
    /** auto (KVM when a guest runs on it, else TCG), kvm or tcg. */
    accel: "auto" | "kvm" | "tcg";
}

export function bootSection({ values: v, fail, failed }: Section): BootConfig {
    const b = v.boot ?? {};
    const diskSize = b.diskSize ?? "2GiB";
    if (!failed("boot.diskSize") && parseSize(diskSize) < 256 * 1024 * 1024) fail("boot.diskSize", `must be at least 256MiB, got ${diskSize}`);
    return {
        enabled: b.enabled ?? true,
        dir: b.dir,
        format: b.format ?? "qcow2",
        diskSize,
        timeoutSeconds: b.timeoutSeconds ?? 900,
        memoryMiB: b.memoryMiB ?? 1024,
        accel: b.accel ?? "auto",
    };
}
