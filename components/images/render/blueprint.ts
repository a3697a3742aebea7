// The same definition as an osbuild blueprint (TOML), for device-edge composes
// on a builder VM (composer-cli blueprints push; compose start-ostree …).
import type { FileSpec, ImageDefinition } from "../catalog";
import { flatten } from "./flatten";

/** TOML basic strings accept JSON's escapes. */
const s = (v: string) => JSON.stringify(v);

/** `files` maps each image path to its bytes (inline or catalog source). */
export function renderBlueprint(chain: ImageDefinition[], fileData: (f: FileSpec) => Buffer): string {
    const img = flatten(chain);
    const out: string[] = [`name = ${s(img.name)}`, `description = ${s(img.description)}`, `version = ${s(img.version)}`, ""];
    for (const p of img.packages) out.push("[[packages]]", `name = ${s(p)}`, `version = "*"`, "");
    out.push("[customizations]", "");
    for (const u of img.users) {
        out.push("[[customizations.user]]", `name = ${s(u.name)}`);
        if (u.groups.length) out.push(`groups = [${u.groups.map(s).join(", ")}]`);
        if (u.sshKeys.length) out.push(`key = ${s(u.sshKeys.join("\n"))}`);
        out.push("");
    }
    if (img.enable.length || img.disable.length) {
        out.push("[customizations.services]", `enabled = [${img.enable.map(s).join(", ")}]`, `disabled = [${img.disable.map(s).join(", ")}]`, "");
    }
    for (const f of img.files) {
        const [user, group] = f.owner.split(":");
        out.push("[[customizations.files]]", `path = ${s(f.path)}`, `mode = ${s(f.mode)}`, `user = ${s(user)}`, `group = ${s(group)}`, `data = ${s(fileData(f).toString("utf8"))}`, "");
    }
    return `${out.join("\n").trimEnd()}\n`;
}
