// ImageBuild: builds one catalog image with buildah and pushes it to the site
// registry BY DIGEST (no tag: hosted, not yet published). Rebuilds only when
// the definition hash or the parent's digest changes — or, for a root image,
// when its refresh policy says its packages are stale: then it is rebuilt from
// fresh packages and pushed only if its installed packages changed, so a
// refresh that finds nothing new moves no tag and rebuilds no child. Keeps the
// history of its builds, so that a release can be pinned back to an earlier version.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { changedKeys, diffOn, isUnknown } from "../dynamic";
import { isDigest, isValidRepository, parseRef, readHostedManifest, RegistryClient, type RegistryAuth, withAuthFile } from "../registry/client";
import { verifyImageSignature } from "../supply-chain/attachments";
import { withTempDir } from "../temp-dir";
import { buildCacheKey, cachedBuild, keepBuild } from "./build-cache";
import { bootstrapRootfs, buildah, buildImage, exportLayout, installedPackages, pushLayout, readyStorage } from "./buildah";
import type { PackageManager, Source } from "./catalog";
import { ROOTFS_TAR } from "./render/containerfile";

export interface ContextFile {
    /** UTF-8 text, or… */
    text?: string;
    /** …base64 for binary files. */
    base64?: string;
}

export interface ImageBuildInputs {
    name: string;
    version: string;
    /** host[:port] */
    registry: string;
    /** e.g. demo/httpd */
    repository: string;
    definitionHash: string;
    /** Shown by `preview --diff`; part of the definition hash. */
    containerfile: string;
    /** The build context (relative path → content), Containerfile included. */
    context: Record<string, ContextFile>;
    source: Source | null;
    /** The tested parent, host/repo@sha256:…, or null for a base image. */
    parentRef: string | null;
    /** With a fleet key: the parent must carry a signature that verifies with it (PEM), or nothing is built. */
    parentPublicKey?: string | null;
    /** buildah storage and the rootfs cache: machine-local, never a reason to rebuild. */
    storage: string;
    cacheDir: string;
    /** Push the kept build of the same definition, version, parent and source when this machine has one (default true). */
    reuseBuilds?: boolean;
    auth?: RegistryAuth;
    /** A root image's refresh policy (null for a child: it rebuilds when its parent does). */
    refresh?: RefreshPolicy | null;
    /**
     * Composed elsewhere (on the ACP's builder VM): what the compose pushed,
     * host/repo@sha256:…. Nothing is built here; the build is that image, once the registry has it.
     */
    composedRef?: string;
}

/** When a root image is rebuilt from fresh packages although its definition did not change. */
export interface RefreshPolicy {
    /** Once this many seconds have passed since its packages were fetched (catalog `refresh.every`), or null. */
    everySeconds: number | null;
    /** When a refresh was asked (`npm run up -- --refresh-bases`), in ms since the epoch, or null. */
    requestedAt: number | null;
    /** How the installed packages are listed: apt (dpkg) or dnf (rpm). */
    packageManager: PackageManager;
}

export interface BuildRecord {
    version: string;
    definitionHash: string;
    digest: string;
    builtAt: string;
}

export interface ImageBuildOutputs extends ImageBuildInputs {
    digest: string;
    /** host/repo@sha256:… */
    ref: string;
    /** Every build this resource pushed, oldest first. */
    history: BuildRecord[];
    /** A root image's installed packages (name=version, sorted): what a refresh compares. */
    packages?: string[] | null;
    /** When a root image's packages were fetched from the mirror or registry (ISO 8601). */
    refreshedAt?: string | null;
}

const DAY = 86_400;
const period = (seconds: number) => (seconds % DAY === 0 ? `${seconds / DAY}d` : seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds}s`);

/**
 * Why a root image is due for a rebuild from fresh packages, or undefined when it
 * is not (a child, no policy, not asked, or refreshed recently enough).
 */
export function staleness(olds: Partial<ImageBuildOutputs>, news: Partial<ImageBuildInputs>, now: number): string | undefined {
    const r = news.refresh;
    if (!r || isUnknown(r)) return undefined;
    const last = Date.parse(olds.refreshedAt ?? olds.history?.at(-1)?.builtAt ?? "");
    if (Number.isNaN(last)) return undefined;
    const hours = Math.max(0, Math.floor((now - last) / 3_600_000));
    const age = hours >= 24 ? `${Math.floor(hours / 24)}d` : hours >= 1 ? `${hours}h` : "less than an hour";
    if (r.requestedAt !== null && r.requestedAt > last) return `a refresh of the bases was asked; its packages were fetched ${age} ago`;
    if (r.everySeconds !== null && now - last >= r.everySeconds * 1000) return `stale: its packages were fetched ${age} ago (refresh.every ${period(r.everySeconds)})`;
    return undefined;
}

/** What changed between two package lists (name=version): "libssl3 3.0.15 → 3.0.16", "+ new", "- gone". */
export function packageChanges(before: string[], after: string[]): string[] {
    const map = (l: string[]) => new Map(l.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    const [b, a] = [map(before), map(after)];
    const out: string[] = [];
    for (const [name, v] of a) if (!b.has(name)) out.push(`+ ${name} ${v}`);
    else if (b.get(name) !== v) out.push(`${name} ${b.get(name)} → ${v}`);
    for (const [name, v] of b) if (!a.has(name)) out.push(`- ${name} ${v}`);
    return out.sort();
}

/** Inputs whose change means a new build. */
const REBUILD_KEYS = ["definitionHash", "parentRef", "version", "composedRef"];
/** Inputs whose change means a different image altogether. */
const REPLACE_KEYS = ["registry", "repository"];
const keyDiff = diffOn(REPLACE_KEYS, REBUILD_KEYS);

/** The labels every build sets, here or composed elsewhere: what it was built from. */
export function buildLabels(definitionHash: string, parentRef: string | null): Record<string, string> {
    return { "io.image-factory.definition-hash": definitionHash, ...(parentRef ? { "io.image-factory.parent": parentRef } : {}) };
}

const log = (name: string) => (line: string) => console.log(`[build ${name}] ${line}`);

interface Built {
    digest: string;
    ref: string;
    packages: string[] | null;
    refreshedAt: string | null;
}

/**
 * Builds and pushes the image. With `fresh` (a refresh), the root's packages are
 * fetched again (a new bootstrap, or the source image pulled again); when the
 * installed packages equal `fresh.previous`, nothing is pushed and `unchanged` is set.
 */
async function build(inputs: ImageBuildInputs, fresh?: { previous: string[] | null }): Promise<Built & { unchanged?: true }> {
    const say = log(inputs.name);
    const repositoryRef = `${inputs.registry}/${inputs.repository}`;
    const started = Date.now();
    say(`building ${inputs.name} ${inputs.version} (${inputs.definitionHash.slice(0, 19)})${inputs.parentRef ? ` on ${inputs.parentRef}` : ""}`);
    const client = new RegistryClient(inputs.registry, { auth: inputs.auth });
    await client.ping(); // a registry that is down fails the build before any work
    // An unsigned or foreign parent stops the build before any work.
    if (inputs.parentRef && inputs.parentPublicKey) {
        const parent = parseRef(inputs.parentRef);
        await verifyImageSignature(new RegistryClient(parent.registry, { auth: inputs.auth }), parent.repository, parent.digest!, inputs.parentPublicKey).catch((e: Error) => {
            throw new Error(`${inputs.name}: will not build on ${inputs.parentRef}: ${e.message}`);
        });
        say(`parent ${inputs.parentRef} verified with the fleet key`);
    }
    if (inputs.composedRef) {
        const digest = inputs.composedRef.split("@")[1];
        if (inputs.composedRef !== `${repositoryRef}@${digest}`) throw new Error(`${inputs.name}: the compose pushed ${inputs.composedRef}, not an image of ${repositoryRef}`);
        if ((await client.resolve(inputs.repository, digest)) !== digest) throw new Error(`${inputs.name}: the compose reported ${inputs.composedRef}, which the registry does not have`);
        say(`composed on the builder VM: ${inputs.composedRef}`);
        return { digest, ref: inputs.composedRef, packages: null, refreshedAt: null };
    }
    await readyStorage(inputs.storage, say);
    const cacheKey = buildCacheKey(inputs);
    /** Pushes a layout by digest and checks the registry has it. */
    const push = async (layout: string, digest: string, authFile: string | undefined) => {
        await pushLayout(layout, digest, repositoryRef, authFile, say);
        if ((await client.resolve(inputs.repository, digest)) !== digest) throw new Error(`${repositoryRef}@${digest} is not in the registry after the push`);
    };
    const cached = !fresh && inputs.reuseBuilds !== false ? await cachedBuild(inputs.cacheDir, cacheKey) : undefined;
    // A root that records its packages needs them for its next refresh: a build kept without
    // them (by a build without the policy, or before packages were recorded) would make that
    // refresh release a new tree with no package changed. Building replaces the entry.
    const kept = cached && inputs.refresh && !cached.entry.packages?.length ? undefined : cached;
    if (cached && !kept) say(`the build kept on this machine at ${cached.entry.builtAt} has no package list, which a refresh compares with: building it again`);
    if (kept) {
        const { entry } = kept;
        say(`the same definition on the same parent was built on this machine at ${entry.builtAt}: pushing that build (${entry.digest}) from the build cache`);
        await withAuthFile(inputs.registry, inputs.auth, (authFile) => push(kept.layout, entry.digest, authFile));
        say(`pushed ${repositoryRef}@${entry.digest} from the build cache in ${Math.round((Date.now() - started) / 1000)}s`);
        return { digest: entry.digest, ref: `${repositoryRef}@${entry.digest}`, packages: inputs.refresh ? entry.packages : null, refreshedAt: inputs.refresh ? entry.refreshedAt : null };
    }
    return withAuthFile(inputs.registry, inputs.auth, (authFile) =>
        withTempDir(`if-build-${inputs.name}-`, async (dir) => {
            for (const [rel, file] of Object.entries(inputs.context)) {
                const target = path.join(dir, rel);
                if (!target.startsWith(dir + path.sep)) throw new Error(`build context path ${JSON.stringify(rel)} leaves the context folder`);
                await fs.mkdir(path.dirname(target), { recursive: true });
                await fs.writeFile(target, file.base64 !== undefined ? Buffer.from(file.base64, "base64") : (file.text ?? ""));
            }
            // When the root's packages were fetched: the bootstrap's time, or now for a pulled source.
            let refreshedAt = inputs.refresh ? new Date().toISOString() : null;
            if (inputs.source?.kind === "rootfs") {
                const tar = await bootstrapRootfs(inputs.source, inputs.cacheDir, say, { fresh: !!fresh });
                if (inputs.refresh) refreshedAt = (await fs.stat(tar)).mtime.toISOString();
                await fs.link(tar, path.join(dir, ROOTFS_TAR)).catch(() => fs.copyFile(tar, path.join(dir, ROOTFS_TAR)));
            }
            const imageId = await buildImage({
                name: inputs.name,
                storage: inputs.storage,
                contextDir: dir,
                parentRef: inputs.parentRef ?? undefined,
                sourceRef: inputs.source?.kind === "image" ? inputs.source.ref : undefined,
                pull: fresh && inputs.source?.kind === "image" ? "always" : "false",
                labels: buildLabels(inputs.definitionHash, inputs.parentRef),
                authFile,
                log: say,
            });
            try {
                const packages = inputs.refresh ? await installedPackages(inputs.storage, imageId, inputs.refresh.packageManager) : null;
                if (fresh && packages) {
                    const changes = fresh.previous ? packageChanges(fresh.previous, packages) : undefined;
                    if (changes?.length === 0) {
                        say(`refreshed from fresh packages: the same ${packages.length} packages, so nothing is pushed, no tag moves and no child rebuilds`);
                        return { digest: "", ref: "", packages, refreshedAt, unchanged: true };
                    }
                    say(changes ? `refreshed from fresh packages: ${changes.length} package change(s): ${changes.slice(0, 20).join(", ")}${changes.length > 20 ? ", …" : ""}` : "refreshed from fresh packages (no earlier package list to compare with)");
                }
                const layout = path.join(dir, ".oci-layout");
                const digest = await exportLayout(inputs.storage, imageId, layout);
                await push(layout, digest, authFile);
                // Kept only once pushed: a build interrupted before that is built again.
                await keepBuild(inputs.cacheDir, cacheKey, layout, { name: inputs.name, version: inputs.version, digest, builtAt: new Date().toISOString(), packages, refreshedAt }).catch((e: Error) =>
                    say(`the build could not be kept in the build cache (${e.message}); the next build of it builds again`),
                );
                say(`built and pushed ${repositoryRef}@${digest} in ${Math.round((Date.now() - started) / 1000)}s`);
                return { digest, ref: `${repositoryRef}@${digest}`, packages, refreshedAt };
            } finally {
                // The registry holds the image now; children pull their parent by digest.
                await buildah(inputs.storage, ["rmi", "-f", imageId]).catch(() => undefined);
            }
        }, path.join(inputs.cacheDir, "tmp")),
    );
}

function record(inputs: ImageBuildInputs, digest: string): BuildRecord {
    return { version: inputs.version, definitionHash: inputs.definitionHash, digest, builtAt: new Date().toISOString() };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures: Array<{ property: string; reason: string }> = [];
        const str = (k: string) => !isUnknown(news[k]) && (typeof news[k] !== "string" || news[k] === "") && failures.push({ property: k, reason: `${k} must be a non-empty string` });
        ["name", "version", "registry", "repository", "definitionHash", "containerfile", "storage", "cacheDir"].forEach(str);
        if (typeof news.repository === "string" && !isUnknown(news.repository) && !isValidRepository(news.repository)) {
            failures.push({ property: "repository", reason: `${JSON.stringify(news.repository)} is not a valid repository name` });
        }
        const parent = news.parentRef;
        if (parent !== null && parent !== undefined && !isUnknown(parent) && (typeof parent !== "string" || !isDigest(parent.split("@")[1] ?? ""))) {
            failures.push({ property: "parentRef", reason: `the parent must be referenced by digest (host/repo@sha256:…), got ${JSON.stringify(parent)}` });
        }
        const composed = news.composedRef;
        if (composed !== undefined && !isUnknown(composed) && (typeof composed !== "string" || !isDigest(composed.split("@")[1] ?? ""))) {
            failures.push({ property: "composedRef", reason: `a compose's result must be referenced by digest (host/repo@sha256:…), got ${JSON.stringify(composed)}` });
        }
        if (!isUnknown(news.context) && (typeof news.context !== "object" || !news.context?.Containerfile)) {
            failures.push({ property: "context", reason: "the build context must contain a Containerfile" });
        }
        return { inputs: news, failures };
    },

    async diff(id, olds, news) {
        const d = await keyDiff(id, olds, news);
        if (d.changes) return d;
        // A root image due for fresh packages: the update rebuilds it, and pushes only if they changed.
        const why = staleness(olds as ImageBuildOutputs, news as ImageBuildInputs, Date.now());
        if (why) console.log(`[build ${news.name}] ${why}: it is rebuilt, and released again only if its packages changed`);
        return why ? { changes: true } : d;
    },

    async create(inputs) {
        const i = inputs as ImageBuildInputs;
        const { digest, ref, packages, refreshedAt } = await build(i);
        const outs: ImageBuildOutputs = { ...i, digest, ref, history: [record(i, digest)], packages, refreshedAt };
        return { id: `${i.registry}/${i.repository}`, outs };
    },

    async update(_id, olds, news) {
        const o = olds as ImageBuildOutputs;
        const n = news as ImageBuildInputs;
        const kept = { digest: o.digest, ref: o.ref, history: o.history, packages: o.packages ?? null, refreshedAt: o.refreshedAt ?? null };
        const rebuild = changedKeys(o as never, n as never, REBUILD_KEYS).length > 0;
        const stale = !rebuild && staleness(o, n, Date.now()) !== undefined;
        // A change of storage, cache, credentials or refresh policy alone never rebuilds.
        if (!rebuild && !stale) return { outs: { ...n, ...kept } };
        const b = await build(n, stale ? { previous: o.packages ?? null } : undefined);
        if (b.unchanged) return { outs: { ...n, ...kept, packages: b.packages, refreshedAt: b.refreshedAt } satisfies ImageBuildOutputs };
        const history = [...(o.history ?? []).filter((h) => h.digest !== b.digest), record(n, b.digest)];
        return { outs: { ...n, digest: b.digest, ref: b.ref, history, packages: b.packages, refreshedAt: b.refreshedAt } satisfies ImageBuildOutputs };
    },

    // What is really in the registry: a build whose manifest is gone is gone.
    read: (id, props) => readHostedManifest(id, props as ImageBuildOutputs),

    async delete(_id, props) {
        const p = props as ImageBuildOutputs;
        const client = new RegistryClient(p.registry, { auth: p.auth });
        for (const h of p.history ?? [{ digest: p.digest } as BuildRecord]) {
            const deleted = await client.deleteManifest(p.repository, h.digest);
            console.log(`[build ${p.name}] ${deleted ? "deleted" : "already gone:"} ${p.registry}/${p.repository}@${h.digest}`);
        }
    },
};
