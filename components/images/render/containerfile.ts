// A catalog image as a bootc-style Containerfile. Every name in it passed the
// catalog's strict patterns, so nothing here can inject a shell command.
import type { ImageDefinition, PackageManager } from "../catalog";

/** The build argument through which the pipeline passes the parent image, by digest. */
export const PARENT_ARG = "PARENT_IMAGE";
/** The file the rootfs source is bootstrapped into, in the build context. */
export const ROOTFS_TAR = "rootfs.tar";

const q = (s: string) => JSON.stringify(s);

function installPackages(pm: PackageManager, packages: string[]): string {
    const list = [...packages].sort().join(" ");
    return pm === "apt"
        ? `RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${list} && apt-get clean && rm -rf /var/lib/apt/lists/*`
        : `RUN dnf -y install ${list} && dnf clean all`;
}

export function renderContainerfile(def: ImageDefinition, pm: PackageManager): string {
    const lines: string[] = [`# image-factory: ${def.name} ${def.version} (from ${def.file})`];
    if (def.parent) {
        lines.push(`# The pipeline passes the tested parent (${def.parent}) by digest.`, `ARG ${PARENT_ARG}`, `FROM \${${PARENT_ARG}}`);
    } else if (def.source?.kind === "image") {
        lines.push(`FROM ${def.source.ref}`);
    } else if (def.source?.kind === "rootfs") {
        const s = def.source;
        lines.push(
            `# Root filesystem: ${s.distro} ${s.suite} (${s.variant}${s.packages.length ? ` + ${[...s.packages].sort().join(", ")}` : ""}) from ${s.mirror}`,
            "FROM scratch",
            `ADD ${ROOTFS_TAR} /`,
        );
    }
    if (def.packages.length) lines.push(installPackages(pm, def.packages));
    for (const u of def.users) {
        const groups = u.groups.length ? ` --groups ${u.groups.join(",")}` : "";
        lines.push(`RUN id -u ${u.name} >/dev/null 2>&1 || useradd --create-home --shell ${u.shell}${groups} ${u.name}`);
        if (u.sshKeys.length) {
            lines.push(
                `RUN install -d -m 0700 -o ${u.name} -g ${u.name} /home/${u.name}/.ssh`,
                `COPY --chown=${u.name}:${u.name} --chmod=0600 ssh/${u.name}.pub /home/${u.name}/.ssh/authorized_keys`,
            );
        }
    }
    for (const f of [...def.files].sort((a, b) => a.path.localeCompare(b.path))) {
        lines.push(`COPY --chown=${f.owner} --chmod=${f.mode} ${q(`files${f.path}`)} ${q(f.path)}`);
    }
    if (def.units.enable.length) lines.push(`RUN systemctl enable ${def.units.enable.join(" ")}`);
    if (def.units.disable.length) lines.push(`RUN systemctl disable ${def.units.disable.join(" ")}`);
    const labels: Record<string, string> = {
        "containers.bootc": "1",
        "org.opencontainers.image.title": def.name,
        "org.opencontainers.image.version": def.version,
        ...(def.description ? { "org.opencontainers.image.description": def.description } : {}),
        ...def.labels,
    };
    lines.push(`LABEL ${Object.keys(labels).sort().map((k) => `${q(k)}=${q(labels[k])}`).join(" \\\n      ")}`);
    return `${lines.join("\n")}\n`;
}
