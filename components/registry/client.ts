// A small client for the OCI distribution API: manifests, tags and blobs. Used
// to move tags without uploading layers, to read what a registry really holds,
// to delete what a stack created, and to mirror images blob by blob.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { sha256Hex } from "../hash";
import { withTempDir } from "../temp-dir";
import { FactoryError } from "../errors";

export interface RegistryAuth {
    username: string;
    password: string;
}

export interface ImageRef {
    /** host[:port] */
    registry: string;
    repository: string;
    tag?: string;
    digest?: string;
}

export const MANIFEST_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export class RegistryError extends FactoryError {
    constructor(
        message: string,
        readonly status?: number,
    ) {
        super(message);
        this.name = "RegistryError";
    }
}

export function isDigest(s: string): boolean {
    return DIGEST.test(s);
}
export function isValidRepository(s: string): boolean {
    return REPOSITORY.test(s) && s.length <= 255;
}
export function isValidTag(s: string): boolean {
    return TAG.test(s);
}

/** Parses "host[:port]/repo[:tag][@sha256:…]". The registry part is required. */
export function parseRef(ref: string): ImageRef {
    const at = ref.indexOf("@");
    const digest = at >= 0 ? ref.slice(at + 1) : undefined;
    const rest = at >= 0 ? ref.slice(0, at) : ref;
    const slash = rest.indexOf("/");
    if (slash < 0) throw new RegistryError(`image reference "${ref}" has no registry host (expected host[:port]/repository[:tag][@digest])`);
    const registry = rest.slice(0, slash);
    let repository = rest.slice(slash + 1);
    let tag: string | undefined;
    const colon = repository.lastIndexOf(":");
    if (colon >= 0) {
        tag = repository.slice(colon + 1);
        repository = repository.slice(0, colon);
    }
    if (!/^[a-zA-Z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(registry) || !(registry.includes(".") || registry.includes(":") || registry === "localhost")) {
        throw new RegistryError(`image reference "${ref}": "${registry}" is not a registry host`);
    }
    if (!isValidRepository(repository)) throw new RegistryError(`image reference "${ref}": "${repository}" is not a valid repository name`);
    if (tag !== undefined && !isValidTag(tag)) throw new RegistryError(`image reference "${ref}": "${tag}" is not a valid tag`);
    if (digest !== undefined && !isDigest(digest)) throw new RegistryError(`image reference "${ref}": "${digest}" is not a sha256 digest`);
    return { registry, repository, tag, digest };
}

export function formatRef(r: ImageRef): string {
    return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** Loopback registries are spoken to over plain HTTP; every other one over TLS. */
export function isLoopback(registry: string): boolean {
    const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || /^127\./.test(host);
}

export function sha256Digest(data: Buffer | string): string {
    return `sha256:${sha256Hex(data)}`;
}

export interface Manifest {
    digest: string;
    mediaType: string;
    body: Buffer;
}

export interface ClientOptions {
    auth?: RegistryAuth;
    /** Use plain HTTP even for a non-loopback host. */
    insecure?: boolean;
    timeoutMs?: number;
}

export class RegistryClient {
    private token?: string;
    private readonly base: string;

    constructor(
        readonly registry: string,
        private readonly opts: ClientOptions = {},
    ) {
        this.base = `${opts.insecure || isLoopback(registry) ? "http" : "https"}://${registry}`;
    }

    /** Checks that the registry answers the distribution API; names the host when it does not. */
    async ping(): Promise<void> {
        await this.request("GET", "/v2/", { ok: [200] });
    }

    async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
        const res = await this.request("GET", `/v2/${repository}/manifests/${reference}`, {
            ok: [200, 404],
            headers: { Accept: MANIFEST_TYPES.join(", ") },
        });
        if (res.status === 404) return undefined;
        const body = Buffer.from(await res.arrayBuffer());
        const digest = sha256Digest(body);
        if (isDigest(reference) && digest !== reference) {
            throw new RegistryError(`${this.registry}/${repository}@${reference}: the registry returned a manifest whose digest is ${digest}`);
        }
        return { digest, mediaType: res.headers.get("content-type")?.split(";")[0] ?? MANIFEST_TYPES[0], body };
    }

    /** The digest a tag or digest reference points at, or undefined. */
    async resolve(repository: string, reference: string): Promise<string | undefined> {
        return (await this.getManifest(repository, reference))?.digest;
    }

    /** Uploads a manifest under a tag or its digest. Its blobs must already be there. */
    async putManifest(repository: string, reference: string, manifest: Pick<Manifest, "body" | "mediaType">): Promise<string> {
        const res = await this.request("PUT", `/v2/${repository}/manifests/${reference}`, {
            ok: [201],
            headers: { "Content-Type": manifest.mediaType },
            body: manifest.body,
        });
        const digest = res.headers.get("docker-content-digest") ?? sha256Digest(manifest.body);
        return digest;
    }

    /** Points `tag` at the manifest `digest` already in `repository` (no layer is uploaded). */
    async tag(repository: string, digest: string, tag: string): Promise<void> {
        const m = await this.getManifest(repository, digest);
        if (!m) throw new RegistryError(`${this.registry}/${repository}@${digest} does not exist; cannot tag it ${tag}`, 404);
        await this.putManifest(repository, tag, m);
    }

    /** Deletes a manifest by digest (every tag pointing at it goes with it). Missing is fine. */
    async deleteManifest(repository: string, digest: string): Promise<boolean> {
        const res = await this.request("DELETE", `/v2/${repository}/manifests/${digest}`, { ok: [202, 404] });
        return res.status === 202;
    }

    async listTags(repository: string): Promise<string[]> {
        const res = await this.request("GET", `/v2/${repository}/tags/list`, { ok: [200, 404] });
        if (res.status === 404) return [];
        const json = (await res.json()) as { tags?: string[] | null };
        return (json.tags ?? []).sort();
    }

    async hasBlob(repository: string, digest: string): Promise<boolean> {
        const res = await this.request("HEAD", `/v2/${repository}/blobs/${digest}`, { ok: [200, 404] });
        return res.status === 200;
    }

    async getBlob(repository: string, digest: string): Promise<Buffer> {
        const res = await this.request("GET", `/v2/${repository}/blobs/${digest}`, { ok: [200] });
        const data = Buffer.from(await res.arrayBuffer());
        if (sha256Digest(data) !== digest) throw new RegistryError(`${this.registry}/${repository} blob ${digest}: content does not match its digest`);
        return data;
    }

    /** A blob's bytes as a stream (the caller checks the digest if it needs to). */
    async openBlob(repository: string, digest: string): Promise<ReadableStream<Uint8Array>> {
        const res = await this.request("GET", `/v2/${repository}/blobs/${digest}`, { ok: [200] });
        if (!res.body) throw new RegistryError(`${this.registry}/${repository} blob ${digest}: empty response`);
        return res.body;
    }

    /** Uploads a blob in one request (monolithic upload); the registry checks the digest. */
    async putBlob(repository: string, digest: string, data: Buffer): Promise<void> {
        await this.upload(repository, digest, data, data.length);
    }

    /**
     * Streams a blob from another registry into this one (the bytes never sit in
     * memory whole); the registry checks the digest before it accepts the upload.
     */
    async copyBlobFrom(source: RegistryClient, sourceRepository: string, repository: string, digest: string): Promise<number> {
        const from = await source.request("GET", `/v2/${sourceRepository}/blobs/${digest}`, { ok: [200] });
        const size = Number(from.headers.get("content-length") ?? NaN);
        await this.upload(repository, digest, from.body ?? Buffer.alloc(0), size);
        return size;
    }

    private async upload(repository: string, digest: string, body: Buffer | ReadableStream<Uint8Array>, size: number): Promise<void> {
        const start = await this.request("POST", `/v2/${repository}/blobs/uploads/`, { ok: [202] });
        const location = start.headers.get("location");
        if (!location) throw new RegistryError(`${this.registry}: upload to ${repository} started without a Location header`);
        const url = new URL(location, this.base);
        url.searchParams.set("digest", digest);
        await this.request("PUT", url.pathname + url.search, {
            ok: [201],
            headers: { "Content-Type": "application/octet-stream", ...(Number.isFinite(size) ? { "Content-Length": String(size) } : {}) },
            body,
        });
    }

    /** Copies a blob from another repository of the same registry without moving bytes. */
    async mountBlob(repository: string, digest: string, fromRepository: string): Promise<boolean> {
        const res = await this.request(
            "POST",
            `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`,
            { ok: [201, 202] },
        );
        if (res.status === 202) {
            // Mount refused: the registry opened a normal upload; cancel it.
            const location = res.headers.get("location");
            if (location) await this.request("DELETE", new URL(location, this.base).pathname, { ok: [204, 404] }).catch(() => undefined);
            return false;
        }
        return true;
    }

    private async request(
        method: string,
        pathAndQuery: string,
        o: { ok: number[]; headers?: Record<string, string>; body?: Buffer | ReadableStream<Uint8Array> },
    ): Promise<Response> {
        const streaming = o.body !== undefined && !Buffer.isBuffer(o.body);
        for (let attempt = 0; ; attempt++) {
            const headers: Record<string, string> = { ...o.headers };
            if (this.token) headers.Authorization = this.token;
            else if (this.opts.auth) headers.Authorization = basic(this.opts.auth);
            let res: Response;
            try {
                res = await fetch(this.base + pathAndQuery, {
                    method,
                    headers,
                    body: o.body,
                    redirect: "follow",
                    signal: AbortSignal.timeout(this.opts.timeoutMs ?? (streaming ? 60 * 60_000 : 120_000)),
                    ...(streaming ? { duplex: "half" } : {}),
                } as RequestInit);
            } catch (e) {
                const cause = (e as { cause?: { code?: string; message?: string } }).cause;
                const why = cause?.code ?? cause?.message ?? (e as Error).message;
                if (attempt < 2 && method !== "POST" && !streaming && /ECONNRESET|EPIPE|UND_ERR_SOCKET/.test(String(why))) continue;
                throw new RegistryError(`registry ${this.registry} is not reachable (${why}) during ${method} ${pathAndQuery.split("?")[0]}`);
            }
            if (res.status === 401 && attempt === 0 && !streaming) {
                const challenge = res.headers.get("www-authenticate") ?? "";
                await res.body?.cancel();
                if (/^bearer/i.test(challenge)) {
                    this.token = await this.fetchToken(challenge);
                    continue;
                }
                if (!this.opts.auth) throw new RegistryError(`registry ${this.registry} requires credentials (401 on ${method} ${pathAndQuery.split("?")[0]})`, 401);
            }
            if (res.status >= 500 && attempt < 2 && method !== "POST" && !streaming) {
                await res.body?.cancel();
                await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
                continue;
            }
            if (!o.ok.includes(res.status)) {
                const text = (await res.text().catch(() => "")).slice(0, 500);
                const what = res.status === 401 || res.status === 403 ? "credentials were refused" : `answered ${res.status}`;
                throw new RegistryError(`registry ${this.registry} ${what} on ${method} ${pathAndQuery.split("?")[0]}${text ? `: ${text.trim()}` : ""}`, res.status);
            }
            return res;
        }
    }

    private async fetchToken(challenge: string): Promise<string> {
        const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
        if (!params.realm) throw new RegistryError(`registry ${this.registry} sent a bearer challenge without a realm`);
        const url = new URL(params.realm);
        if (params.service) url.searchParams.set("service", params.service);
        if (params.scope) url.searchParams.set("scope", params.scope);
        const res = await fetch(url, { headers: this.opts.auth ? { Authorization: basic(this.opts.auth) } : {} }).catch((e) => {
            throw new RegistryError(`token service ${url.host} for registry ${this.registry} is not reachable (${(e as Error).message})`);
        });
        if (!res.ok) throw new RegistryError(`token service ${url.host} refused the credentials for registry ${this.registry} (${res.status})`, res.status);
        const json = (await res.json()) as { token?: string; access_token?: string };
        return `Bearer ${json.token ?? json.access_token}`;
    }
}

function basic(a: RegistryAuth): string {
    return `Basic ${Buffer.from(`${a.username}:${a.password}`).toString("base64")}`;
}

/** A containers auth file (auth.json) holding `auth` for `registry`: a secret. */
export function authJson(registry: string, auth: RegistryAuth): string {
    return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString("base64") } } });
}

/**
 * Runs `fn` with the path of a containers auth file (0600, in a private temp
 * folder, removed afterwards) holding `auth` for `registry`, so that buildah and
 * skopeo get credentials without them appearing on a command line.
 */
export async function withAuthFile<T>(registry: string, auth: RegistryAuth | undefined, fn: (authFile: string | undefined) => Promise<T>): Promise<T> {
    if (!auth) return fn(undefined);
    // withTempDir: the folder of a killed process (credentials inside) is swept by the next one.
    return withTempDir("if-auth-", async (dir) => {
        const file = path.join(dir, "auth.json");
        await fs.writeFile(file, authJson(registry, auth), {
            mode: 0o600,
        });
        return fn(file);
    });
}

/** The flags buildah and skopeo need for a registry: TLS verification off for loopback, the auth file. */
export function containerToolFlags(registry: string, authFile: string | undefined, kind: "src" | "dest" | "plain" = "plain"): string[] {
    const prefix = kind === "plain" ? "" : `${kind}-`;
    const flags = [`--${prefix}tls-verify=${isLoopback(registry) ? "false" : "true"}`];
    if (authFile) flags.push(`--${prefix}authfile`, authFile);
    return flags;
}

/**
 * A dynamic provider's `read` for a resource that is one manifest in a registry (a build, a
 * mirrored copy, a container disk): what is really there — its props while
 * `registry/repository@digest` resolves to that digest, gone otherwise.
 */
export async function readHostedManifest<P extends { registry: string; repository: string; digest: string; auth?: RegistryAuth }>(id: string, props: P): Promise<{ id: string; props: P | Record<string, never> }> {
    const there = (await new RegistryClient(props.registry, { auth: props.auth }).resolve(props.repository, props.digest)) === props.digest;
    return there ? { id, props } : { id: "", props: {} };
}
