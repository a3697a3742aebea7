// Blueprints and kiwi recipes describe a whole image, not a layer: the lineage
// flattened, children overriding their ancestors.
import type { FileSpec, ImageDefinition, UserSpec } from "../catalog";

export interface FlatImage {
    name: string;
    version: string;
    description: string;
    packages: string[];
    files: FileSpec[];
    users: UserSpec[];
    enable: string[];
    disable: string[];
}

export function flatten(chain: ImageDefinition[]): FlatImage {
    const def = chain[chain.length - 1];
    const packages = new Set<string>();
    const files = new Map<string, FileSpec>();
    const users = new Map<string, UserSpec>();
    const enable = new Set<string>();
    const disable = new Set<string>();
    for (const img of chain) {
        if (img.source?.kind === "rootfs") for (const p of img.source.packages) packages.add(p);
        for (const p of img.packages) packages.add(p);
        for (const f of img.files) files.set(f.path, f);
        for (const u of img.users) users.set(u.name, u);
        for (const u of img.units.enable) {
            enable.add(u);
            disable.delete(u);
        }
        for (const u of img.units.disable) {
            disable.add(u);
            enable.delete(u);
        }
    }
    return {
        name: def.name,
        version: def.version,
        description: def.description ?? `${def.name} ${def.version}`,
        packages: [...packages].sort(),
        files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)),
        users: [...users.values()],
        enable: [...enable].sort(),
        disable: [...disable].sort(),
    };
}
