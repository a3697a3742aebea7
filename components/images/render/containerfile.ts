// A catalog image as a bootc-style Containerfile. Catalog values come from pull
// requests, so besides the catalog's strict patterns the quoting here is safe on
// its own: every value in a RUN line is one shell word (single-quoted unless it is plain); every path and
// label is a Containerfile double-quoted string with \ " $ escaped (no variable
// expansion); comments and quoted strings never hold a line break, so no value
// can start an instruction of its own.
import type { ImageDefinition, PackageManager } from "../catalog";
import { BOOT_CONTEXT, BOOT_REPORT, BOOT_REPORT_UNIT, INITRAMFS_HOOK, type ResolvedBoot } from "./boot";
import { shWord } from "./test-script";

/** The build argument through which the pipeline passes the parent image, by digest. */
export const PARENT_ARG = "PARENT_IMAGE";
/** The file the rootfs source is bootstrapped into, in the build context. */
export const ROOTFS_TAR = "rootfs.tar";

/** Files under this folder configure the initramfs (initramfs-tools, apt images). */
export const INITRAMFS_CONFIG = "/etc/initramfs-tools/";

const CONTROL = /[^ -~\u00a0-\uffff]/;

/** A Containerfile double-quoted string: buildah's parser reads \\, \" and \$ as the characters themselves. */
export function dq(s: string): string {
    if (CONTROL.test(s)) throw new Error(`${JSON.stringify(s)} holds a control character; it cannot be written into a Containerfile`);
    return `"${s.replace(/[\\"$]/g, "\\$&")}"`;
}

/** A Containerfile word: as it is when plain, else double-quoted. */
const cfWord = (s: string) => (/^[A-Za-z0-9._+:@/=,-]+$/.test(s) ? s : dq(s));

/** COPY's --chown and --chmod take no quoting: anything but a plain owner or mode is refused. */
function flag(kind: "owner" | "mode", v: string): string {
    if (!(kind === "owner" ? /^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$/ : /^[0-7]{3,4}$/).test(v)) throw new Error(`${JSON.stringify(v)} is not a plain ${kind}; it cannot be written into a Containerfile`);
    return v;
}

/** A comment's text on one line. */
const oneLine = (s: string) => s.replace(/[^ -~\u00a0-\uffff]+/g, " ");
/** One shell word in a RUN line; a line break would end the instruction, so control characters are refused. */
function runWord(s: string): string {
    if (CONTROL.test(s)) throw new Error(`${JSON.stringify(s)} holds a control character; it cannot be written into a Containerfile`);
    return shWord(s);
}
const words = (list: string[]) => list.map(runWord).join(" ");

function installPackages(pm: PackageManager, packages: string[]): string {
    const list = words([...packages].sort());
    // --force-confold: a config file the image already has (the fleet's containers policy a parent
    // ships) stays; without it a package carrying the same file (skopeo's containers-common) asks
    // dpkg's conffile question and the build fails.
    return pm === "apt"
        ? `RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold ${list} && apt-get clean && rm -rf /var/lib/apt/lists/*`
        : `RUN dnf -y install ${list} && dnf clean all`;
}

export function renderContainerfile(def: ImageDefinition, pm: PackageManager, boot?: ResolvedBoot): string {
    const lines: string[] = [oneLine(`# image-factory: ${def.name} ${def.version} (from ${def.file})`)];
    if (def.parent) {
        lines.push(oneLine(`# The pipeline passes the tested parent (${def.parent}) by digest.`), `ARG ${PARENT_ARG}`, `FROM \${${PARENT_ARG}}`);
    } else if (def.source?.kind === "image") {
        lines.push(`FROM ${def.source.ref}`); // the catalog pattern allows no quote, space or $
    } else if (def.source?.kind === "rootfs") {
        const s = def.source;
        lines.push(
            oneLine(`# Root filesystem: ${s.distro} ${s.suite} (${s.variant}${s.packages.length ? ` + ${[...s.packages].sort().join(", ")}` : ""}) from ${s.mirror}`),
            "FROM scratch",
            `ADD ${ROOTFS_TAR} /`,
        );
    }
    // Boot files are fixed paths of this renderer; the kernel package name goes through installPackages' quoting.
    const hook = boot?.initramfsModules.length ? `COPY --chown=root:root --chmod=${pm === "apt" ? "0755" : "0644"} ${BOOT_CONTEXT.hook} ${INITRAMFS_HOOK[pm]}` : undefined;
    const kernel = def.boot?.kernel;
    if (kernel) {
        // The hook and the boot report are in place before the kernel's install makes the initramfs.
        if (hook) lines.push(hook);
        lines.push(
            `COPY --chown=root:root --chmod=0755 ${BOOT_CONTEXT.report} ${BOOT_REPORT}`,
            `COPY --chown=root:root --chmod=0644 ${BOOT_CONTEXT.unit} /etc/systemd/system/${BOOT_REPORT_UNIT}`,
        );
    }
    const packages = kernel ? [...new Set([...def.packages, kernel, pm === "apt" ? "initramfs-tools" : "dracut"])] : def.packages;
    if (packages.length) lines.push(installPackages(pm, packages));
    if (kernel) lines.push(`RUN systemctl enable ${BOOT_REPORT_UNIT}`);
    else if (hook && def.boot?.initramfsModules.length) {
        // A child adds initramfs modules to its parent's kernel: make the initramfs again.
        lines.push(hook, pm === "apt" ? "RUN update-initramfs -u -k all" : "RUN dracut --regenerate-all --force");
    }
    for (const u of def.users) {
        const name = runWord(u.name);
        const groups = u.groups.length ? ` --groups ${runWord(u.groups.join(","))}` : "";
        lines.push(`RUN id -u ${name} >/dev/null 2>&1 || useradd --create-home --shell ${runWord(u.shell)}${groups} ${name}`);
        if (u.sshKeys.length) {
            lines.push(
                `RUN install -d -m 0700 -o ${name} -g ${name} ${runWord(`/home/${u.name}/.ssh`)}`,
                `COPY --chown=${flag("owner", `${u.name}:${u.name}`)} --chmod=0600 ${cfWord(`ssh/${u.name}.pub`)} ${cfWord(`/home/${u.name}/.ssh/authorized_keys`)}`,
            );
        }
    }
    for (const f of [...def.files].sort((a, b) => a.path.localeCompare(b.path))) {
        lines.push(`COPY --chown=${flag("owner", f.owner)} --chmod=${flag("mode", f.mode)} ${dq(`files${f.path}`)} ${dq(f.path)}`);
    }
    // The initramfs is made when the kernel is installed, before the files are
    // copied: files that configure it (modules, hooks, scripts) make it again.
    if (pm === "apt" && def.files.some((f) => f.path.startsWith(INITRAMFS_CONFIG))) lines.push("RUN update-initramfs -u -k all");
    if (def.units.enable.length) lines.push(`RUN systemctl enable ${words(def.units.enable)}`);
    if (def.units.disable.length) lines.push(`RUN systemctl disable ${words(def.units.disable)}`);
    const labels: Record<string, string> = {
        "containers.bootc": "1",
        "org.opencontainers.image.title": def.name,
        "org.opencontainers.image.version": def.version,
        ...(def.description ? { "org.opencontainers.image.description": oneLine(def.description).trim() } : {}),
        ...def.labels,
    };
    lines.push(`LABEL ${Object.keys(labels).sort().map((k) => `${dq(k)}=${dq(labels[k])}`).join(" \\\n      ")}`);
    return `${lines.join("\n")}\n`;
}
