// image-factory:prestage: the site's factory pre-staged disks.
import { type DiskFormat, type Filesystem, parseSize, RESERVED_NAMES, SET_NAME } from "../components/prestage";
import { parseRef } from "../components/registry";
import { PATTERNS } from "../components/schema";
import type { Section } from "./config";

/** One factory pre-staged disk (image-factory:prestage.disks.<name>). */
export interface PrestageDiskConfig {
    /** Disk size in bytes (config: "120GiB", "8G" or bytes). */
    size: number;
    format: DiskFormat;
    label: string;
    filesystem: Filesystem;
    /** Free space on top of the content, percent. */
    headroom: number;
    /** Where the node mounts the partition. */
    mountPoint: string;
    /** Folder → catalog image names (the released image, by digest) or full image references. */
    contentSets: Record<string, string[]>;
    /** `source` relative to the project root or absolute. */
    extraFiles: Array<{ path: string; content?: string; source?: string }>;
}

/** The prestage section: where disks go and each disk's size, layout and content. */
export interface PrestageConfig {
    /** Absolute folder for disk artifacts. Default: <project>/.local/artifacts/disks. */
    dir?: string;
    disks: Record<string, PrestageDiskConfig>;
}

export function prestageSection({ values: v, fail, failed }: Section): PrestageConfig {
    const p = v.prestage ?? {};
    const disks: Record<string, PrestageDiskConfig> = {};
    for (const [name, d] of Object.entries(p.disks ?? {})) {
        const key = `prestage.disks.${name}`;
        if (!d || typeof d !== "object") continue;
        let size = 0;
        if (d.size !== undefined && !failed(`${key}.size`)) {
            try {
                size = parseSize(d.size);
                if (size % 512 !== 0) fail(`${key}.size`, `must be a multiple of 512 bytes, got ${size}`);
            } catch (e) {
                fail(`${key}.size`, (e as Error).message);
            }
        }
        for (const [set, refs] of Object.entries(d.contentSets ?? {})) {
            const setKey = `${key}.contentSets.${set}`;
            if (!SET_NAME.test(set) || RESERVED_NAMES.includes(set)) fail(setKey, `"${set}" is not a usable folder name (a-z, 0-9, . _ -; not ${RESERVED_NAMES.join(", ")})`);
            if (!Array.isArray(refs)) continue;
            for (const [i, ref] of refs.entries()) {
                if (typeof ref !== "string") continue;
                if (ref.includes("/")) {
                    try {
                        parseRef(ref);
                    } catch (e) {
                        fail(`${setKey}[${i}]`, (e as Error).message);
                    }
                } else if (!PATTERNS.dnsLabel.test(ref)) {
                    fail(`${setKey}[${i}]`, `must be a catalog image name or a full image reference (host/repository@sha256:… or :tag), got ${JSON.stringify(ref)}`);
                }
            }
        }
        for (const [i, f] of (d.extraFiles ?? []).entries()) {
            const top = typeof f?.path === "string" ? f.path.split("/")[0] : "";
            if (RESERVED_NAMES.includes(top) && !failed(`${key}.extraFiles[${i}].path`)) fail(`${key}.extraFiles[${i}].path`, `${f.path} is the partition's own`);
        }
        disks[name] = {
            size,
            format: d.format as DiskFormat,
            label: d.label!,
            filesystem: d.filesystem as Filesystem,
            headroom: d.headroom!,
            mountPoint: d.mountPoint!,
            contentSets: d.contentSets,
            extraFiles: d.extraFiles ?? [],
        };
    }
    return { dir: p.dir, disks };
}
