// From a catalog image (plus the site's customizations) to what a build needs:
// the merged definition, its build context, its Containerfile and its identity
// hash. Pure except for reading catalog source files.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type Catalog, CatalogError, checkSourcePath, type FileSpec, type ImageDefinition, lineage, type PackageManager, PATTERNS, type Source } from "./catalog";
import { sha256Hex } from "../hash";
import { renderContainerfile } from "./render/containerfile";

/** Per-site additions to an image (stack config `images.customizations.<name>`). */
export interface Customization {
    files?: Array<{ path: string; content?: string; source?: string; mode?: string; owner?: string }>;
    packages?: string[];
    labels?: Record<string, string>;
}

/** A catalog image made concrete for one site. */
export interface ResolvedImage {
    def: ImageDefinition;
    /** The root ancestor's source (what the chain starts from). */
    rootSource: Source;
    packageManager: PackageManager;
    /** Ancestors root first, ending with this image (all customized for the site). */
    chain: ImageDefinition[];
    /** Build context: relative path → bytes. Includes "Containerfile". */
    context: Map<string, Buffer>;
    containerfile: string;
    /** sha256 over the Containerfile, the context, the source and the parent's hash. */
    definitionHash: string;
    parent: string | null;
}


/** Canonical JSON: object keys sorted, so equal definitions hash equally. */
export function canonicalJson(v: unknown): string {
    if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
    if (v && typeof v === "object") {
        return `{${Object.keys(v)
            .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(v);
}

/** Merges a site's customization into an image; problems name the config key. */
export function customize(catalog: Catalog, img: ImageDefinition, c: Customization | undefined, key: string): ImageDefinition {
    if (!c) return img;
    const problems: string[] = [];
    const files: FileSpec[] = (c.files ?? []).map((f, i) => {
        const k = `${key}.files[${i}]`;
        if (!PATTERNS.imagePath.test(f.path) || f.path.split("/").includes("..")) problems.push(`${k}.path: ${JSON.stringify(f.path)} must be an absolute path in the image`);
        if ((f.content === undefined) === (f.source === undefined)) problems.push(`${k}: needs exactly one of \`content\` or \`source\``);
        if (f.source !== undefined) {
            const bad = checkSourcePath(f.source);
            if (bad) problems.push(`${k}.source: ${JSON.stringify(f.source)} ${bad}`);
            else {
                try {
                    readFileSync(path.join(catalog.dir, f.source));
                } catch {
                    problems.push(`${k}.source: ${JSON.stringify(f.source)} does not exist in the catalog folder`);
                }
            }
        }
        const owner = f.owner ?? "root:root";
        if (!PATTERNS.owner.test(owner)) problems.push(`${k}.owner: ${JSON.stringify(owner)} is not a valid owner`);
        const mode = f.mode ?? "0644";
        if (!PATTERNS.mode.test(mode)) problems.push(`${k}.mode: ${JSON.stringify(mode)} is not an octal mode`);
        return { path: f.path, content: f.content, source: f.source, mode: mode.padStart(4, "0"), owner: owner.includes(":") ? owner : `${owner}:${owner}` };
    });
    (c.packages ?? []).forEach((p, i) => {
        if (!PATTERNS.package.test(p)) problems.push(`${key}.packages[${i}]: ${JSON.stringify(p)} is not a valid package name`);
    });
    for (const lk of Object.keys(c.labels ?? {})) if (!PATTERNS.labelKey.test(lk)) problems.push(`${key}.labels.${lk}: not a valid label key`);
    if (problems.length) throw new CatalogError(problems.map((p) => `image-factory:${p}`));
    const byPath = new Map(img.files.map((f) => [f.path, f]));
    for (const f of files) byPath.set(f.path, f); // a site file replaces the catalog's file at the same path
    return {
        ...img,
        packages: [...new Set([...img.packages, ...(c.packages ?? [])])],
        files: [...byPath.values()],
        labels: { ...img.labels, ...c.labels },
    };
}

/** The bytes of a file spec: inline content or the catalog source file. */
export function fileBytes(catalog: Catalog, f: FileSpec): Buffer {
    return f.content !== undefined ? Buffer.from(f.content, "utf8") : readFileSync(path.join(catalog.dir, f.source!));
}

/** Where a file spec's bytes sit in the build context. */
export const contextPath = (imagePath: string) => `files${imagePath}`;
export const sshKeysContextPath = (user: string) => `ssh/${user}.pub`;

/**
 * Resolves every selected image for a site, parents first, so that each
 * image's hash includes its parent's.
 */
export function resolveImages(
    catalog: Catalog,
    names: string[],
    customizations: Record<string, Customization> = {},
    customizationKey = "images.customizations",
): Map<string, ResolvedImage> {
    const unknown = Object.keys(customizations).filter((n) => !catalog.images.has(n));
    if (unknown.length) throw new CatalogError(unknown.map((n) => `image-factory:${customizationKey}.${n}: ${JSON.stringify(n)} is not in the catalog`));
    const out = new Map<string, ResolvedImage>();
    const customized = (name: string) => customize(catalog, catalog.images.get(name)!, customizations[name], `${customizationKey}.${name}`);
    for (const name of names) {
        const chain = lineage(catalog, name).map((i) => customized(i.name));
        const def = chain[chain.length - 1];
        const root = chain[0];
        const rootSource = root.source!;
        const packageManager: PackageManager = rootSource.kind === "rootfs" ? "apt" : rootSource.packageManager;
        const parent = def.parent ? out.get(def.parent) ?? resolveImages(catalog, [def.parent], customizations, customizationKey).get(def.parent)! : undefined;

        const context = new Map<string, Buffer>();
        for (const f of def.files) context.set(contextPath(f.path), fileBytes(catalog, f));
        for (const u of def.users) if (u.sshKeys.length) context.set(sshKeysContextPath(u.name), Buffer.from(`${u.sshKeys.join("\n")}\n`));
        const containerfile = renderContainerfile(def, packageManager);
        context.set("Containerfile", Buffer.from(containerfile));

        const identity = {
            schema: 1,
            containerfile,
            context: [...context.entries()].map(([p, b]) => [p, sha256Hex(b)]).sort(),
            source: def.source ?? null,
            parent: parent?.definitionHash ?? null,
        };
        out.set(name, {
            def,
            rootSource,
            packageManager,
            chain,
            context,
            containerfile,
            definitionHash: `sha256:${sha256Hex(canonicalJson(identity))}`,
            parent: def.parent ?? null,
        });
    }
    return out;
}
