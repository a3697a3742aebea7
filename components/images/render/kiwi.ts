// The same definition as a kiwi-ng recipe (config.xml + config.sh + root/
// overlay), the form an image management service keeps in its `ims` bucket.
import type { FileSpec, ImageDefinition, Source } from "../catalog";
import { flatten } from "./flatten";
import { shWord } from "./test-script";

const x = (v: string) => v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Recipe files: relative path → bytes. */
export function renderKiwiRecipe(chain: ImageDefinition[], rootSource: Source, fileData: (f: FileSpec) => Buffer): Map<string, Buffer> {
    const img = flatten(chain);
    const pm = rootSource.kind === "rootfs" ? "apt" : rootSource.packageManager === "apt" ? "apt" : "dnf4";
    const xml: string[] = [
        '<?xml version="1.0" encoding="utf-8"?>',
        `<!-- image-factory: ${x(img.name)} ${x(img.version)} -->`,
        `<image schemaversion="7.4" name="${x(img.name)}">`,
        '    <description type="system">',
        "        <author>image-factory</author>",
        "        <contact>platform-engineering</contact>",
        `        <specification>${x(img.description)}</specification>`,
        "    </description>",
        "    <preferences>",
        `        <version>${x(img.version)}</version>`,
        `        <packagemanager>${pm}</packagemanager>`,
        "        <locale>en_US</locale>",
        "        <keytable>us</keytable>",
        "        <timezone>UTC</timezone>",
        '        <type image="tbz"/>',
        "    </preferences>",
    ];
    if (img.users.length) {
        xml.push("    <users>");
        for (const u of img.users) xml.push(`        <user name="${x(u.name)}" groups="${x(u.groups.join(","))}" home="/home/${x(u.name)}" shell="${x(u.shell)}"/>`);
        xml.push("    </users>");
    }
    if (rootSource.kind === "rootfs") {
        xml.push(
            `    <repository type="apt-deb" alias="${x(rootSource.distro)}" distribution="${x(rootSource.suite)}" components="main" repository_gpgcheck="true">`,
            `        <source path="${x(rootSource.mirror)}"/>`,
            "    </repository>",
        );
    } else {
        xml.push(`    <!-- repositories: provided by the build environment for ${x(rootSource.ref)} -->`);
    }
    xml.push('    <packages type="image">');
    for (const p of img.packages) xml.push(`        <package name="${x(p)}"/>`);
    xml.push("    </packages>", '    <packages type="bootstrap">', `        <package name="${pm === "apt" ? "ca-certificates" : "filesystem"}"/>`, "    </packages>", "</image>", "");

    const sh: string[] = ["#!/bin/bash", "# kiwi runs this inside the image root after the packages are installed.", "set -euo pipefail"];
    for (const u of img.users) {
        if (!u.sshKeys.length) continue;
        sh.push(
            `install -d -m 0700 -o ${shWord(u.name)} -g ${shWord(u.name)} ${shWord(`/home/${u.name}/.ssh`)}`,
            `chown ${shWord(`${u.name}:${u.name}`)} ${shWord(`/home/${u.name}/.ssh/authorized_keys`)}`,
            `chmod 0600 ${shWord(`/home/${u.name}/.ssh/authorized_keys`)}`,
        );
    }
    // Every value a single shell word: a path like /etc/$(…) stays a path.
    for (const f of img.files) sh.push(`chown ${shWord(f.owner)} ${shWord(f.path)}`, `chmod ${shWord(f.mode)} ${shWord(f.path)}`);
    if (img.enable.length) sh.push(`systemctl enable ${img.enable.map(shWord).join(" ")}`);
    if (img.disable.length) sh.push(`systemctl disable ${img.disable.map(shWord).join(" ")}`);

    const recipe = new Map<string, Buffer>([
        ["config.xml", Buffer.from(xml.join("\n"))],
        ["config.sh", Buffer.from(`${sh.join("\n")}\n`)],
    ]);
    for (const f of img.files) recipe.set(`root${f.path}`, fileData(f));
    for (const u of img.users) if (u.sshKeys.length) recipe.set(`root/home/${u.name}/.ssh/authorized_keys`, Buffer.from(`${u.sshKeys.join("\n")}\n`));
    return recipe;
}
