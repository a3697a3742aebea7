// buildah, skopeo and mmdebstrap as the image pipeline uses them: rootless-style
// vfs storage in a cache folder, chroot isolation, pushes by digest.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { run, type RunOptions } from "../exec";
import { containerToolFlags, isDigest, parseRef } from "../registry/client";
import type { Source } from "./catalog";
import { canonicalJson } from "./definition";
import { sha256Hex } from "../hash";
import { withTempDir } from "../temp-dir";


/** buildah's storage (vfs driver): works as root and in unprivileged containers alike. */
export function storageFlags(storage: string): string[] {
    return ["--root", path.join(storage, "storage"), "--runroot", path.join(storage, "run"), "--storage-driver", "vfs"];
}

export type Log = (line: string) => void;

export function buildah(storage: string, args: string[], opts: RunOptions = {}) {
    return run("buildah", [...storageFlags(storage), ...args], opts);
}

/**
 * A root filesystem tarball bootstrapped with mmdebstrap, cached by its source
 * definition: the same source is bootstrapped once per machine.
 */
export async function bootstrapRootfs(source: Extract<Source, { kind: "rootfs" }>, cacheDir: string, log: Log): Promise<string> {
    const key = sha256Hex(canonicalJson(source)).slice(0, 32);
    const dir = path.join(cacheDir, "rootfs");
    const tar = path.join(dir, `${source.distro}-${source.suite}-${key}.tar`);
    try {
        await fs.access(tar);
        log(`root filesystem ${source.distro} ${source.suite} (${source.variant}) from cache`);
        return tar;
    } catch {
        // not cached yet
    }
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${tar}.${process.pid}.tmp`;
    log(`bootstrapping ${source.distro} ${source.suite} (${source.variant}) with mmdebstrap from ${source.mirror} ...`);
    try {
        await run(
            "mmdebstrap",
            [`--variant=${source.variant}`, ...(source.packages.length ? [`--include=${source.packages.join(",")}`] : []), "--format=tar", source.suite, tmp, source.mirror],
            {
                // A fixed epoch keeps the tarball reproducible.
                env: { SOURCE_DATE_EPOCH: "1700000000" },
                timeoutMs: 30 * 60_000,
                onLine: (l) => /^I: (retrieving|extracting|installing|success)/.test(l) && log(l.slice(3)),
            },
        );
        await fs.rename(tmp, tar);
    } finally {
        await fs.rm(tmp, { force: true });
    }
    return tar;
}

export interface BuildRequest {
    name: string;
    storage: string;
    contextDir: string;
    /** The parent by digest (host/repo@sha256:…), for images built on another catalog image. */
    parentRef?: string;
    labels: Record<string, string>;
    authFile?: string;
    log: Log;
}

/** Builds the Containerfile in `contextDir`; returns the local image id. */
export async function buildImage(req: BuildRequest): Promise<string> {
    const iidfile = path.join(req.contextDir, ".iid");
    const args = ["bud", "--isolation", "chroot", "--layers=false", "--pull=false", "--iidfile", iidfile, "-f", path.join(req.contextDir, "Containerfile")];
    if (req.parentRef) {
        args.push("--build-arg", `PARENT_IMAGE=${req.parentRef}`, ...containerToolFlags(parseRef(req.parentRef).registry, req.authFile));
    }
    for (const [k, v] of Object.entries(req.labels)) args.push("--label", `${k}=${v}`);
    args.push(req.contextDir);
    await buildah(req.storage, args, {
        timeoutMs: 60 * 60_000,
        // Progress: the Containerfile steps, not every line apt prints.
        onLine: (l) => /^(STEP \d+\/\d+|COMMIT|E: |error)/i.test(l) && req.log(l),
    });
    return (await fs.readFile(iidfile, "utf8")).trim();
}

/**
 * Pushes a local image to `host/repository` by digest, with no tag: the image
 * is hosted but not published until a release points a tag at it. Returns the digest.
 */
export async function pushByDigest(storage: string, imageId: string, repositoryRef: string, authFile: string | undefined, log: Log): Promise<string> {
    const { registry } = parseRef(repositoryRef);
    return withTempDir("if-push-", async (dir) => {
        const layout = `oci:${path.join(dir, "layout")}:image`;
        const digestFile = path.join(dir, "digest");
        // The OCI layout fixes the manifest (and so its digest) before anything is uploaded.
        await buildah(storage, ["push", "--quiet", "--format", "oci", "--digestfile", digestFile, imageId, layout], { timeoutMs: 30 * 60_000 });
        const digest = (await fs.readFile(digestFile, "utf8")).trim();
        if (!isDigest(digest)) throw new Error(`buildah push wrote an unexpected digest ${JSON.stringify(digest)}`);
        log(`pushing ${repositoryRef}@${digest}`);
        await run("skopeo", ["copy", "--quiet", "--preserve-digests", ...containerToolFlags(registry, authFile, "dest"), layout, `docker://${repositoryRef}@${digest}`], {
            timeoutMs: 30 * 60_000,
        });
        return digest;
    });
}
