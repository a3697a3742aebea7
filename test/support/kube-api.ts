// A small REST client for the test cluster (scripts/services/kube.ts): what the
// tests, the CRD installer and the stand-in controller need, over node:https
// with the cluster's CA and bearer token.
import * as https from "node:https";

export interface KubeObjectJson {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
    spec?: any;
    status?: any;
    [k: string]: unknown;
}

export class KubeApiError extends Error {
    constructor(
        message: string,
        readonly status: number,
    ) {
        super(message);
        this.name = "KubeApiError";
    }
}

/** Where a kind is served: its group/version and plural resource name. */
export interface ResourceRef {
    apiVersion: string;
    /** Plural resource name, e.g. "virtualmachines". */
    resource: string;
    namespaced: boolean;
}

export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, sub?: string): string {
    const base = ref.apiVersion.includes("/") ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const ns = ref.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    return `${base}${ns}/${ref.resource}${name ? `/${encodeURIComponent(name)}` : ""}${sub ? `/${sub}` : ""}`;
}

export class KubeApi {
    constructor(
        readonly server: string,
        private readonly token: string,
        private readonly ca: string,
    ) {}

    request<T = any>(method: string, urlPath: string, body?: unknown, contentType = "application/json"): Promise<T> {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        return new Promise((resolve, reject) => {
            const req = https.request(
                new URL(urlPath, this.server),
                {
                    method,
                    ca: this.ca,
                    timeout: 30_000,
                    headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json", ...(payload ? { "Content-Type": contentType, "Content-Length": payload.length } : {}) },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) {
                            resolve(text ? JSON.parse(text) : undefined);
                            return;
                        }
                        let message = text;
                        try {
                            message = JSON.parse(text).message ?? text;
                        } catch {
                            // not JSON
                        }
                        reject(new KubeApiError(`${method} ${urlPath}: HTTP ${res.statusCode}: ${message}`, res.statusCode ?? 0));
                    });
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath}: no answer in 30s`)));
            req.on("error", reject);
            req.end(payload);
        });
    }

    get<T = KubeObjectJson>(urlPath: string): Promise<T> {
        return this.request("GET", urlPath);
    }

    /** The object, or undefined when it does not exist. */
    async find(urlPath: string): Promise<KubeObjectJson | undefined> {
        try {
            return await this.get(urlPath);
        } catch (e) {
            if (e instanceof KubeApiError && e.status === 404) return undefined;
            throw e;
        }
    }

    async list(ref: ResourceRef, namespace?: string, labelSelector?: string): Promise<KubeObjectJson[]> {
        const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
        const r = await this.get<{ items: KubeObjectJson[] }>(`${resourcePath(ref, namespace)}${query}`);
        const kind = ref.resource;
        return r.items.map((i) => ({ ...i, apiVersion: i.apiVersion ?? ref.apiVersion, kind: i.kind ?? kind }));
    }

    create(ref: ResourceRef, obj: KubeObjectJson): Promise<KubeObjectJson> {
        return this.request("POST", resourcePath(ref, obj.metadata.namespace), obj);
    }

    /** Merge-patches the status subresource. */
    patchStatus(ref: ResourceRef, obj: Pick<KubeObjectJson, "metadata">, status: unknown): Promise<KubeObjectJson> {
        return this.request("PATCH", resourcePath(ref, obj.metadata.namespace, obj.metadata.name, "status"), { status }, "application/merge-patch+json");
    }

    patch(ref: ResourceRef, obj: Pick<KubeObjectJson, "metadata">, patch: unknown): Promise<KubeObjectJson> {
        return this.request("PATCH", resourcePath(ref, obj.metadata.namespace, obj.metadata.name), patch, "application/merge-patch+json");
    }

    /** Deletes the object (gone already is fine); `force`: at once, with no grace period (what a kubelet confirms). */
    async delete(ref: ResourceRef, namespace: string | undefined, name: string, force = false): Promise<void> {
        try {
            await this.request("DELETE", resourcePath(ref, namespace, name), force ? { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 } : undefined);
        } catch (e) {
            if (!(e instanceof KubeApiError && e.status === 404)) throw e;
        }
    }
}
