// buildah, skopeo and mmdebstrap as the image pipeline uses them: rootless-style
// vfs storage in a cache folder, chroot isolation, pushes by digest.
import { randomBytes } from "node:crypto";
import { promises as fs, readdirSync, readFileSync, unlinkSync } from "node:fs";
import * as path from "node:path";
import { run, type RunOptions } from "../exec";
import { containerToolFlags, isDigest, parseRef, type RegistryAuth, RegistryClient, RegistryError, withAuthFile } from "../registry/client";
import type { PackageManager, Source } from "./catalog";
import { canonicalJson } from "./definition";
import { sha256Hex } from "../hash";
import { processRuns } from "../temp-dir";
import { parseDpkgStatus } from "../supply-chain/sbom";


/** buildah's storage (vfs driver): works as root and in unprivileged containers alike. */
export function storageFlags(storage: string): string[] {
    return ["--root", path.join(storage, "storage"), "--runroot", path.join(storage, "run"), "--storage-driver", "vfs"];
}

export type Log = (line: string) => void;

export function buildah(storage: string, args: string[], opts: RunOptions = {}) {
    return run("buildah", [...storageFlags(storage), ...args], opts);
}

const readied = new Map<string, Promise<void>>();

/** The label every image the factory builds carries (children inherit it from their parent). */
export const DEFINITION_HASH_LABEL = "io.image-factory.definition-hash";

/**
 * Call before this process first uses `storage`: registers the process as a user
 * (<storage>/users/<pid>, removed when it exits) and, when no other live process
 * uses the storage, empties it of what no one needs any more: working containers
 * (of `buildah bud`, or a test's `buildah from`) and built images that never got
 * to their `rmi` (they have no name) — SIGKILL runs no cleanup — and the factory's
 * images pulled by earlier runs (parents, images under test, VM disk sources).
 * Each of those is a copy of an image in a registry, pulled again by digest when
 * needed; kept, they grew the storage without bound (the vfs driver stores every
 * image as full copies of its layers: 38 GB after a day of test runs on one machine).
 */
export function readyStorage(storage: string, log: Log): Promise<void> {
    let ready = readied.get(storage);
    if (!ready) {
        ready = sweepStorage(storage, log);
        readied.set(storage, ready);
    }
    return ready;
}

async function sweepStorage(storage: string, log: Log): Promise<void> {
    const users = path.join(storage, "users");
    await fs.mkdir(users, { recursive: true });
    const mine = path.join(users, String(process.pid));
    await fs.writeFile(mine, "");
    process.once("exit", () => {
        try {
            unlinkSync(mine);
        } catch {
            // already gone
        }
    });
    for (const entry of await fs.readdir(users)) {
        if (entry !== String(process.pid) && !processRuns(Number(entry))) await fs.rm(path.join(users, entry), { force: true });
    }
    if ((await fs.readdir(users)).some((e) => e !== String(process.pid)) || foreignToolRuns(storage)) return;
    const listed = (await buildah(storage, ["containers", "--all", "--json"])).stdout.trim();
    const containers = (JSON.parse(listed || "[]") ?? []) as Array<{ id: string; containername: string }>;
    for (const c of containers) await buildah(storage, ["rm", c.id]);
    const images = async (filter: string) =>
        new Set((await buildah(storage, ["images", "--filter", filter, "--quiet", "--no-trunc"])).stdout.split("\n").filter(Boolean).map((id) => id.replace(/^sha256:/, "")));
    const dangling = await images("dangling=true");
    const pulled = [...(await images(`label=${DEFINITION_HASH_LABEL}`))].filter((id) => !dangling.has(id));
    if (dangling.size || pulled.length) await buildah(storage, ["rmi", "-f", ...dangling, ...pulled]);
    if (containers.length || dangling.size) {
        log(`removed what interrupted builds left in ${storage}: ${containers.length} working container(s)${containers.length ? ` (${containers.map((c) => c.containername).join(", ")})` : ""}, ${dangling.size} unnamed image(s)`);
    }
    if (pulled.length) log(`removed ${pulled.length} image(s) earlier runs pulled into ${storage} (each is pulled again by digest when needed)`);
}

/**
 * Pulls `ref` by digest into `storage` (when it is not there yet), mounts it in a
 * working container, runs `fn` on the mounted tree (and the container, for
 * `buildah run`) and removes the container.
 */
export async function withImageRoot<T>(
    storage: string,
    ref: string,
    auth: RegistryAuth | undefined,
    name: string,
    log: Log,
    fn: (root: string, container: string) => Promise<T>,
): Promise<T> {
    return withImageContainer(storage, ref, auth, name, log, async (container) => fn((await buildah(storage, ["mount", container])).stdout.trim(), container));
}

/** Runs `fn` with a working container of the image `ref` (pulled by digest when missing), removed afterwards. */
export async function withImageContainer<T>(storage: string, ref: string, auth: RegistryAuth | undefined, name: string, log: Log, fn: (container: string) => Promise<T>): Promise<T> {
    await readyStorage(storage, log);
    const { registry } = parseRef(ref);
    const container = `if-${name}-${randomBytes(4).toString("hex")}`;
    await withAuthFile(registry, auth, (authFile) =>
        buildah(storage, ["from", "--pull=false", "--quiet", "--name", container, ...containerToolFlags(registry, authFile), ref], { timeoutMs: 30 * 60_000, secrets: auth ? [auth.password] : [] }),
    );
    try {
        return await fn(container);
    } finally {
        await buildah(storage, ["rm", container]).catch(() => undefined);
    }
}

/** True while a buildah or skopeo started by someone else (no users/ entry) works on `storage`. */
function foreignToolRuns(storage: string): boolean {
    const root = path.join(storage, "storage");
    for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e) && e !== String(process.pid))) {
        try {
            const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
            if (argv.includes(root) && processRuns(Number(pid))) return true;
        } catch {
            // gone meanwhile
        }
    }
    return false;
}

/**
 * A root filesystem tarball bootstrapped with mmdebstrap, cached by its source
 * definition: the same source is bootstrapped once per machine, until a refresh
 * (`fresh`) bootstraps it again from the mirror's current packages and replaces it.
 */
export async function bootstrapRootfs(source: Extract<Source, { kind: "rootfs" }>, cacheDir: string, log: Log, opts: { fresh?: boolean } = {}): Promise<string> {
    const key = sha256Hex(canonicalJson(source)).slice(0, 32);
    const dir = path.join(cacheDir, "rootfs");
    const tar = path.join(dir, `${source.distro}-${source.suite}-${key}.tar`);
    if (!opts.fresh) {
        try {
            await fs.access(tar);
            log(`root filesystem ${source.distro} ${source.suite} (${source.variant}) from cache`);
            return tar;
        } catch {
            // not cached yet
        }
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
    /** The catalog's source image (host/repo[:tag][@digest]), for a root image built FROM one. */
    sourceRef?: string;
    labels: Record<string, string>;
    authFile?: string;
    /** `always` pulls the FROM image again (a refresh); by default it is pulled only when missing. */
    pull?: "always" | "false";
    log: Log;
}

/** Builds the Containerfile in `contextDir`; returns the local image id. */
export async function buildImage(req: BuildRequest): Promise<string> {
    const iidfile = path.join(req.contextDir, ".iid");
    const args = ["bud", "--isolation", "chroot", "--layers=false", `--pull=${req.pull ?? "false"}`, "--iidfile", iidfile, "-f", path.join(req.contextDir, "Containerfile")];
    if (req.parentRef) args.push("--build-arg", `PARENT_IMAGE=${req.parentRef}`);
    // The registry the FROM image is pulled from: plain HTTP when it is on loopback.
    const from = req.parentRef ?? req.sourceRef;
    if (from) args.push(...containerToolFlags(parseRef(from).registry, req.authFile));
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
 * The packages installed in a local image, as name=version lines, sorted: what a
 * refresh compares. apt images: the dpkg database, read as the SBOM reads it; dnf
 * images: rpm's query inside the image.
 */
export async function installedPackages(storage: string, imageId: string, packageManager: PackageManager): Promise<string[]> {
    const container = `if-packages-${randomBytes(4).toString("hex")}`;
    await buildah(storage, ["from", "--pull=never", "--quiet", "--name", container, imageId]);
    try {
        if (packageManager === "apt") {
            const root = (await buildah(storage, ["mount", container])).stdout.trim();
            const status = await fs.readFile(path.join(root, "var/lib/dpkg/status"), "utf8").catch(() => {
                throw new Error("the image has no dpkg database (/var/lib/dpkg/status), so its packages cannot be listed for a refresh");
            });
            return parseDpkgStatus(status)
                .map((p) => `${p.name}=${p.version}`)
                .sort();
        }
        const query = ["rpm", "--query", "--all", "--queryformat=%{NAME}=%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n"];
        return (await buildah(storage, ["run", "--isolation", "chroot", container, "--", ...query])).stdout.split("\n").filter(Boolean).sort();
    } finally {
        await buildah(storage, ["rm", container]).catch(() => undefined);
    }
}

/**
 * Writes a local image as an OCI layout in `dir` (made by buildah) and returns its
 * manifest digest: the layout fixes the manifest, and so the digest, before any upload.
 */
export async function exportLayout(storage: string, imageId: string, dir: string): Promise<string> {
    const digestFile = `${dir}.digest`;
    try {
        await buildah(storage, ["push", "--quiet", "--format", "oci", "--digestfile", digestFile, imageId, `oci:${dir}:image`], { timeoutMs: 30 * 60_000 });
        const digest = (await fs.readFile(digestFile, "utf8")).trim();
        if (!isDigest(digest)) throw new Error(`buildah push wrote an unexpected digest ${JSON.stringify(digest)}`);
        return digest;
    } finally {
        await fs.rm(digestFile, { force: true });
    }
}

/**
 * Pushes the image of an OCI layout (see exportLayout) to `host/repository` by digest,
 * with no tag: the image is hosted but not published until a release points a tag at it.
 */
export async function pushLayout(dir: string, digest: string, repositoryRef: string, authFile: string | undefined, log: Log): Promise<void> {
    const { registry } = parseRef(repositoryRef);
    log(`pushing ${repositoryRef}@${digest}`);
    try {
        await run("skopeo", ["copy", "--quiet", "--preserve-digests", ...containerToolFlags(registry, authFile, "dest"), `oci:${dir}:image`, `docker://${repositoryRef}@${digest}`], {
            timeoutMs: 30 * 60_000,
        });
    } catch (e) {
        // A registry that went away mid-push: lead with that, naming it, then skopeo's own words.
        const down = await new RegistryClient(registry, { timeoutMs: 10_000 }).ping().then(
            () => undefined,
            (p) => (p instanceof RegistryError && p.status === undefined ? p : undefined),
        );
        if (down) throw new Error(`${down.message}; the push of ${repositoryRef}@${digest} failed: ${(e as Error).message}`);
        throw e;
    }
}
