// ImageBuild: builds one catalog image with buildah and pushes it to the site
// registry BY DIGEST (no tag: hosted, not yet published). Rebuilds only when
// the definition hash or the parent's digest changes. Keeps the history of its
// builds, so that a release can be pinned back to an earlier version.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { changedKeys, diffOn, isUnknown } from "../dynamic";
import { isDigest, isValidRepository, parseRef, RegistryClient, type RegistryAuth, withAuthFile } from "../registry/client";
import { verifyImageSignature } from "../supply-chain/attachments";
import { withTempDir } from "../temp-dir";
import { bootstrapRootfs, buildah, buildImage, pushByDigest, readyStorage } from "./buildah";
import type { Source } from "./catalog";
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
    auth?: RegistryAuth;
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
}

/** Inputs whose change means a new build. */
const REBUILD_KEYS = ["definitionHash", "parentRef", "version"];
/** Inputs whose change means a different image altogether. */
const REPLACE_KEYS = ["registry", "repository"];

const log = (name: string) => (line: string) => console.log(`[build ${name}] ${line}`);

async function build(inputs: ImageBuildInputs): Promise<{ digest: string; ref: string }> {
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
    await readyStorage(inputs.storage, say);
    return withAuthFile(inputs.registry, inputs.auth, (authFile) =>
        withTempDir(`if-build-${inputs.name}-`, async (dir) => {
            for (const [rel, file] of Object.entries(inputs.context)) {
                const target = path.join(dir, rel);
                if (!target.startsWith(dir + path.sep)) throw new Error(`build context path ${JSON.stringify(rel)} leaves the context folder`);
                await fs.mkdir(path.dirname(target), { recursive: true });
                await fs.writeFile(target, file.base64 !== undefined ? Buffer.from(file.base64, "base64") : (file.text ?? ""));
            }
            if (inputs.source?.kind === "rootfs") {
                const tar = await bootstrapRootfs(inputs.source, inputs.cacheDir, say);
                await fs.link(tar, path.join(dir, ROOTFS_TAR)).catch(() => fs.copyFile(tar, path.join(dir, ROOTFS_TAR)));
            }
            const imageId = await buildImage({
                name: inputs.name,
                storage: inputs.storage,
                contextDir: dir,
                parentRef: inputs.parentRef ?? undefined,
                sourceRef: inputs.source?.kind === "image" ? inputs.source.ref : undefined,
                labels: {
                    "io.image-factory.definition-hash": inputs.definitionHash,
                    ...(inputs.parentRef ? { "io.image-factory.parent": inputs.parentRef } : {}),
                },
                authFile,
                log: say,
            });
            try {
                const digest = await pushByDigest(inputs.storage, imageId, repositoryRef, authFile, say);
                if ((await client.resolve(inputs.repository, digest)) !== digest) {
                    throw new Error(`${repositoryRef}@${digest} is not in the registry after the push`);
                }
                say(`built and pushed ${repositoryRef}@${digest} in ${Math.round((Date.now() - started) / 1000)}s`);
                return { digest, ref: `${repositoryRef}@${digest}` };
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
        if (!isUnknown(news.context) && (typeof news.context !== "object" || !news.context?.Containerfile)) {
            failures.push({ property: "context", reason: "the build context must contain a Containerfile" });
        }
        return { inputs: news, failures };
    },

    diff: diffOn(REPLACE_KEYS, REBUILD_KEYS),

    async create(inputs) {
        const i = inputs as ImageBuildInputs;
        const { digest, ref } = await build(i);
        const outs: ImageBuildOutputs = { ...i, digest, ref, history: [record(i, digest)] };
        return { id: `${i.registry}/${i.repository}`, outs };
    },

    async update(_id, olds, news) {
        const o = olds as ImageBuildOutputs;
        const n = news as ImageBuildInputs;
        // A change of storage, cache or credentials alone never rebuilds.
        if (changedKeys(o as never, n as never, REBUILD_KEYS).length === 0) return { outs: { ...n, digest: o.digest, ref: o.ref, history: o.history } };
        const { digest, ref } = await build(n);
        const history = [...(o.history ?? []).filter((h) => h.digest !== digest), record(n, digest)];
        return { outs: { ...n, digest, ref, history } satisfies ImageBuildOutputs };
    },

    async read(id, props) {
        const p = props as ImageBuildOutputs;
        const client = new RegistryClient(p.registry, { auth: p.auth });
        // What is really in the registry: a build whose manifest is gone is gone.
        if ((await client.resolve(p.repository, p.digest)) !== p.digest) return { id: "", props: {} };
        return { id, props };
    },

    async delete(_id, props) {
        const p = props as ImageBuildOutputs;
        const client = new RegistryClient(p.registry, { auth: p.auth });
        for (const h of p.history ?? [{ digest: p.digest } as BuildRecord]) {
            const deleted = await client.deleteManifest(p.repository, h.digest);
            console.log(`[build ${p.name}] ${deleted ? "deleted" : "already gone:"} ${p.registry}/${p.repository}@${h.digest}`);
        }
    },
};
