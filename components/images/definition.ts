// From a catalog image (plus the site's customizations) to what a build needs:
// the merged definition, its build context, its Containerfile and its identity
// hash. Pure except for reading catalog source files (once each, through the
// catalog: the build context holds the very bytes that were hashed).
import { ValidationProblems, validate } from "../schema";
import { type Catalog, CatalogError, catalogSource, checkFiles, type FileSpec, fileSpec, type ImageDefinition, lineage, type PackageManager, type Source } from "./catalog";
import { type Customization, Customizations } from "./schema";

export type { Customization };
import { sha256Hex } from "../hash";
import { bootContext, resolveBoot, type ResolvedBoot } from "./render/boot";
import { renderContainerfile } from "./render/containerfile";

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
    /** How it boots, inherited along the chain. */
    boot: ResolvedBoot;
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

/**
 * Checks a site's customizations against the catalog, all problems at once,
 * each naming its config key: the same schema as the stack configuration's,
 * plus the rules that need the catalog (image names, file sources).
 */
export function checkCustomizations(catalog: Catalog, customizations: Record<string, Customization>, key = "images.customizations"): Record<string, Customization> {
    const problems = new ValidationProblems((k) => `image-factory:${k}: `);
    const { value, failed } = validate(Customizations, customizations, problems, { base: key });
    for (const [name, c] of Object.entries(value)) {
        if (!catalog.images.has(name)) problems.add(`${key}.${name}`, `${JSON.stringify(name)} is not in the catalog`);
        else
            checkFiles(
                c.files,
                `${key}.${name}.files`,
                (rel) => sourceProblem(catalog, rel),
                problems,
                (k) => failed(k.slice(key.length + 1)),
            );
    }
    if (problems.list.length) throw new CatalogError(problems.list);
    return value;
}

/** What is wrong with a catalog source file (read the safe way, once, and kept), or undefined. */
function sourceProblem(catalog: Catalog, rel: string): string | undefined {
    try {
        catalogSource(catalog, rel);
        return undefined;
    } catch (e) {
        return (e as Error).message;
    }
}

/** Merges a site's (checked) customization into an image. */
function customize(img: ImageDefinition, c: Customization | undefined): ImageDefinition {
    if (!c) return img;
    const byPath = new Map(img.files.map((f) => [f.path, f]));
    for (const f of c.files ?? []) byPath.set(f.path, fileSpec(f)); // a site file replaces the catalog's file at the same path
    return {
        ...img,
        packages: [...new Set([...img.packages, ...(c.packages ?? [])])],
        files: [...byPath.values()],
        labels: { ...img.labels, ...c.labels },
    };
}

/** The bytes of a file spec: inline content or the catalog source file (as read when checked). */
export function fileBytes(catalog: Catalog, f: FileSpec): Buffer {
    return f.content !== undefined ? Buffer.from(f.content, "utf8") : catalogSource(catalog, f.source!);
}

/** Where a file spec's bytes sit in the build context. */
export const contextPath = (imagePath: string) => `files${imagePath}`;
export const sshKeysContextPath = (user: string) => `ssh/${user}.pub`;

/**
 * Resolves every selected image for a site, parents first, so that each
 * image's hash includes its parent's.
 */
export function resolveImages(catalog: Catalog, names: string[], customizations: Record<string, Customization> = {}, customizationKey = "images.customizations"): Map<string, ResolvedImage> {
    const checked = checkCustomizations(catalog, customizations, customizationKey);
    const out = new Map<string, ResolvedImage>();
    const customized = (name: string) => customize(catalog.images.get(name)!, checked[name]);
    for (const name of names) {
        const chain = lineage(catalog, name).map((i) => customized(i.name));
        const def = chain[chain.length - 1];
        const root = chain[0];
        const rootSource = root.source!;
        const packageManager: PackageManager = rootSource.kind === "rootfs" ? "apt" : rootSource.packageManager;
        const parent = def.parent ? (out.get(def.parent) ?? resolveImages(catalog, [def.parent], customizations, customizationKey).get(def.parent)!) : undefined;

        const context = new Map<string, Buffer>();
        for (const f of def.files) context.set(contextPath(f.path), fileBytes(catalog, f));
        for (const u of def.users) if (u.sshKeys.length) context.set(sshKeysContextPath(u.name), Buffer.from(`${u.sshKeys.join("\n")}\n`));
        const boot = resolveBoot(chain);
        for (const [rel, bytes] of bootContext(def, boot, packageManager)) context.set(rel, bytes);
        const containerfile = renderContainerfile(def, packageManager, boot);
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
            boot,
        });
    }
    return out;
}
