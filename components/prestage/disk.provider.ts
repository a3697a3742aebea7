// PreStagedDisk provider: the engine calls this in its provider host (see
// components/dynamic.ts). check validates and pins every image reference to a
// digest, so that the diff is honest: unchanged content, no rebuild.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { changedKeys, isUnknown } from "../dynamic";
import { parseRef, RegistryClient } from "../registry/client";
import { sha256File } from "../hash";
import { signingKeyProblem } from "../supply-chain/sigstore";
import { buildDisk, removeBeside, statArtifact, sweepStaleTemps, type DiskSpec, type ExtraFile } from "./build";
import { FILESYSTEMS, FORMATS, parseSize } from "./layout";
import { LABEL, PARTITION_PATH, RESERVED_NAMES, SET_NAME } from "./tooling";

/** What the resource passes: DiskSpec with the disk size as written ("8GiB" or bytes). */
export interface DiskInputs extends Omit<DiskSpec, "sizeBytes"> {
    diskSize: string | number;
    /** Files with a source carry its sha256 (added by check). */
    extraFiles: Array<ExtraFile & { sha256?: string }>;
}

/** Inputs whose change remakes the disk at the same path (a new fleet key signs the manifest on the partition again). */
const REBUILD_KEYS = ["diskSize", "format", "label", "filesystem", "headroomPercent", "mountPoint", "contentSets", "extraFiles", "publicKey"];


type Failure = { property: string; reason: string };

/** Validates inputs; pins tag references to digests and hashes extra files so the diff sees content changes. */
async function checkInputs(news: Record<string, any>): Promise<{ inputs: Record<string, any>; failures: Failure[] }> {
    const failures: Failure[] = [];
    const fail = (property: string, reason: string) => failures.push({ property, reason });
    const inputs = { ...news };
    const known = (v: unknown) => v !== undefined && !isUnknown(v);

    if (known(news.path) && (typeof news.path !== "string" || !path.isAbsolute(news.path) || /[\s:]/.test(news.path))) {
        fail("path", `must be an absolute path without whitespace or ":", got ${JSON.stringify(news.path)}`);
    }
    if (known(news.diskSize)) {
        try {
            if (parseSize(news.diskSize) % 512 !== 0) fail("diskSize", `must be a multiple of 512 bytes, got ${news.diskSize}`);
        } catch (e) {
            fail("diskSize", (e as Error).message);
        }
    }
    if (known(news.format) && !FORMATS.includes(news.format)) fail("format", `must be one of ${FORMATS.join(", ")}, got ${JSON.stringify(news.format)}`);
    if (known(news.filesystem) && !FILESYSTEMS.includes(news.filesystem)) fail("filesystem", `must be one of ${FILESYSTEMS.join(", ")}, got ${JSON.stringify(news.filesystem)}`);
    if (known(news.label) && !LABEL.test(news.label)) fail("label", `must be 1-12 characters (letters, digits, . _ -), got ${JSON.stringify(news.label)}`);
    if (known(news.headroomPercent) && !(typeof news.headroomPercent === "number" && news.headroomPercent >= 0 && news.headroomPercent <= 1000)) {
        fail("headroomPercent", `must be a number from 0 to 1000, got ${JSON.stringify(news.headroomPercent)}`);
    }
    if (known(news.mountPoint) && !(typeof news.mountPoint === "string" && /^\/[A-Za-z0-9._/-]+$/.test(news.mountPoint))) {
        fail("mountPoint", `must be an absolute path, got ${JSON.stringify(news.mountPoint)}`);
    }
    if (known(news.signingKey)) {
        if (news.publicKey === undefined) fail("publicKey", "is required with signingKey: the public half the manifest's signature is checked against");
        const why = signingKeyProblem(String(news.signingKey), known(news.publicKey) ? String(news.publicKey) : undefined);
        if (why) fail("signingKey", why);
    }

    const topNames = new Set<string>(RESERVED_NAMES);
    if (news.contentSets !== undefined && !isUnknown(news.contentSets)) {
        if (typeof news.contentSets !== "object" || Array.isArray(news.contentSets)) {
            fail("contentSets", "must be a map of folder name → list of image references");
        } else {
            const pinned: Record<string, unknown> = {};
            for (const [set, refs] of Object.entries(news.contentSets as Record<string, unknown>)) {
                if (!SET_NAME.test(set) || RESERVED_NAMES.includes(set)) fail(`contentSets.${set}`, `"${set}" is not a usable folder name (a-z, 0-9, . _ -; not ${RESERVED_NAMES.join(", ")})`);
                topNames.add(set);
                if (isUnknown(refs)) {
                    pinned[set] = refs;
                    continue;
                }
                if (!Array.isArray(refs)) {
                    fail(`contentSets.${set}`, "must be a list of image references");
                    continue;
                }
                pinned[set] = await Promise.all(
                    refs.map(async (ref: unknown, i: number) => {
                        if (isUnknown(ref)) return ref;
                        try {
                            if (typeof ref !== "string") throw new Error(`must be an image reference, got ${JSON.stringify(ref)}`);
                            return await pinDigest(ref, news.credentials);
                        } catch (e) {
                            fail(`contentSets.${set}[${i}]`, (e as Error).message);
                            return ref;
                        }
                    }),
                );
            }
            inputs.contentSets = pinned;
        }
    }

    if (news.extraFiles !== undefined && !isUnknown(news.extraFiles)) {
        if (!Array.isArray(news.extraFiles)) fail("extraFiles", "must be a list of {path, content} or {path, source}");
        else {
            inputs.extraFiles = await Promise.all(
                news.extraFiles.map(async (f: any, i: number) => {
                    const key = `extraFiles[${i}]`;
                    if (isUnknown(f) || isUnknown(f?.path) || isUnknown(f?.content) || isUnknown(f?.source)) return f;
                    if (typeof f?.path !== "string" || !PARTITION_PATH.test(f.path)) {
                        fail(`${key}.path`, `must be a relative path on the partition (letters, digits, . _ + @ = -), got ${JSON.stringify(f?.path)}`);
                        return f;
                    }
                    const top = f.path.split("/")[0];
                    if (RESERVED_NAMES.includes(top) || (f.path.includes("/") && Object.keys(news.contentSets ?? {}).includes(top) && /\.tar$/.test(f.path))) {
                        fail(`${key}.path`, `${f.path} would overwrite the partition's own ${top}`);
                    }
                    if ((f.content === undefined) === (f.source === undefined)) {
                        fail(key, "needs exactly one of content (text) and source (absolute path of a file)");
                        return f;
                    }
                    if (f.source !== undefined) {
                        if (typeof f.source !== "string" || !path.isAbsolute(f.source)) {
                            fail(`${key}.source`, `must be an absolute path, got ${JSON.stringify(f.source)}`);
                            return f;
                        }
                        try {
                            return { path: f.path, source: f.source, sha256: await sha256File(f.source) };
                        } catch (e) {
                            fail(`${key}.source`, `cannot read ${f.source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
                            return f;
                        }
                    }
                    if (typeof f.content !== "string") fail(`${key}.content`, "must be a string");
                    return { path: f.path, content: f.content };
                }),
            );
        }
    }
    return { inputs, failures };
}

/** "host/repo:tag" → "host/repo:tag@sha256:…" (what the tag points at now); references with a digest are kept as they are. */
async function pinDigest(ref: string, credentials: DiskSpec["credentials"]): Promise<string> {
    const image = parseRef(ref);
    if (image.digest) return ref;
    const tag = image.tag ?? "latest";
    const auth = credentials && !isUnknown(credentials) && credentials.registry === image.registry ? credentials : undefined;
    const digest = await new RegistryClient(image.registry, { auth, timeoutMs: 30_000 }).resolve(image.repository, tag);
    if (!digest) throw new Error(`image ${ref} does not exist in registry ${image.registry}`);
    return `${image.registry}/${image.repository}:${tag}@${digest}`;
}

function toSpec(inputs: Record<string, any>): DiskSpec {
    const { diskSize, ...rest } = inputs as DiskInputs;
    return { ...rest, sizeBytes: parseSize(diskSize) };
}

async function build(inputs: Record<string, any>) {
    const built = await buildDisk(toSpec(inputs), { log: (l) => console.log(`prestage: ${l}`) });
    // `sha256` is what the file holds (read keeps it true); `builtSha256` what this
    // resource wrote, so that a disk changed by hand shows as a change to put right.
    return { ...inputs, ...built, builtSha256: built.sha256 };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        return checkInputs(news);
    },
    async diff(_id, olds, news) {
        const changes = changedKeys(olds, news, ["path", ...REBUILD_KEYS]);
        if (olds.builtSha256 && olds.sha256 !== olds.builtSha256) changes.push("sha256");
        return { changes: changes.length > 0, replaces: changes.filter((k) => k === "path"), deleteBeforeReplace: false };
    },
    async create(inputs) {
        const outs = await build(inputs);
        return { id: outs.path, outs };
    },
    async update(_id, _olds, news) {
        return { outs: await build(news) };
    },
    async read(id, props) {
        // The file as it is now: a disk edited by hand reads as a different sha256 than
        // builtSha256, which diff reports as a change (the next up writes it again).
        const seen = await statArtifact(id);
        if (!seen) return { id: "", props: {} };
        return { id, props: { ...props, ...seen } };
    },
    async delete(id) {
        await fs.rm(id, { force: true });
        await removeBeside(id);
        await sweepStaleTemps(id);
    },
};
