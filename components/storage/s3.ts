// How this project talks to S3 (AWS or any S3-compatible store: Ceph RGW, ODF,
// MinIO, versitygw): one client shape, and errors that name the endpoint.
import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { redact } from "../exec";

/** Where an S3 store is. */
export interface S3Location {
    /** e.g. https://rgw.site.example or http://127.0.0.1:7070; unset for AWS itself. */
    endpoint?: string;
    region: string;
    /** Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> (needed by most S3-compatible stores). */
    pathStyle: boolean;
}

/** How to sign for it. Always a Pulumi secret in resource inputs and state. */
export interface S3Credentials {
    accessKeyId: string;
    secretAccessKey: string;
}

export type S3Connection = S3Location & S3Credentials;

/** The endpoint as shown in messages. */
export function endpointOf(c: Pick<S3Connection, "endpoint" | "region">): string {
    return c.endpoint ?? `https://s3.${c.region}.amazonaws.com`;
}

/** A URL for an object: path-style on a custom endpoint, virtual-host style on AWS. */
export function objectUrl(c: Pick<S3Connection, "endpoint" | "region" | "pathStyle">, bucket: string, key: string): string {
    const k = key.split("/").map(encodeURIComponent).join("/");
    if (c.endpoint || c.pathStyle) return `${endpointOf(c).replace(/\/+$/, "")}/${bucket}/${k}`;
    return `https://${bucket}.s3.${c.region}.amazonaws.com/${k}`;
}

/**
 * An S3 client with retries (standard mode, `maxAttempts` tries) and connect/request
 * timeouts. Checksums are computed only when an operation asks for one (uploads ask
 * for SHA256), so that stores without the newer default CRC checksums work too.
 */
export function s3Client(c: S3Connection, opts: { maxAttempts?: number } = {}): S3Client {
    // The SDK version is pinned and supports Node 20; its notice about future releases is noise in every `up`.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    return new S3Client({
        endpoint: c.endpoint,
        region: c.region,
        forcePathStyle: c.pathStyle,
        credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
        maxAttempts: opts.maxAttempts ?? 4,
        retryMode: "standard",
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        requestHandler: { connectionTimeout: 10_000, requestTimeout: 15 * 60_000 },
    });
}

const CREDENTIAL_ERRORS = ["SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidClientTokenId", "AuthorizationHeaderMalformed"];
const NETWORK_ERRORS = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"];

/** The S3 error name of `e` (NoSuchKey, NotImplemented, …), or undefined. */
export function s3ErrorName(e: unknown): string | undefined {
    if (e instanceof S3ServiceException) return e.name;
    return (e as { name?: string })?.name;
}

/** HTTP status of an S3 error, when the server answered. */
export function s3Status(e: unknown): number | undefined {
    return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * An Error that says which endpoint, what was being done and why it failed in
 * words an operator can act on. The credentials never appear in it.
 */
export function s3Error(c: S3Connection, doing: string, e: unknown): Error {
    const err = e as NodeJS.ErrnoException & { $metadata?: unknown };
    const name = s3ErrorName(e) ?? "Error";
    const code = err?.code ?? (NETWORK_ERRORS.find((n) => String(err?.message).includes(n)) || undefined);
    let why: string;
    if (code && NETWORK_ERRORS.includes(code)) {
        why = `cannot reach the server (${code}); is it running and is the endpoint right?`;
    } else if (CREDENTIAL_ERRORS.includes(name)) {
        why = `the server rejected the credentials (${name}); check the access key and secret key`;
    } else if (s3Status(e) === 403 && (name === "Unknown" || name === "Forbidden" || name === "403")) {
        // HEAD answers carry no error body, so the server cannot say which.
        why = "the server refused the request (HTTP 403): the credentials are wrong or lack access to it";
    } else if (name === "AccessDenied") {
        why = `access denied (${err.message})`;
    } else if (name === "TimeoutError" || name === "RequestTimeout") {
        why = `timed out (${err.message})`;
    } else if (name === "Error" && !s3Status(e)) {
        why = err?.message ?? String(e);
    } else {
        why = `${name}${s3Status(e) ? ` (HTTP ${s3Status(e)})` : ""}: ${err?.message ?? String(e)}`;
    }
    const out = new Error(redact(`S3 ${endpointOf(c)}: ${doing} failed: ${why}`, [c.secretAccessKey]));
    out.name = name;
    return out;
}

/** Runs `op`, turning any failure into an s3Error. */
export async function s3Call<T>(c: S3Connection, doing: string, op: () => Promise<T>): Promise<T> {
    try {
        return await op();
    } catch (e) {
        throw s3Error(c, doing, e);
    }
}

/** S3 bucket naming rules (the common subset that AWS and Ceph accept); undefined when fine. */
export function bucketNameProblem(name: string): string | undefined {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) return `must be 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit, got ${JSON.stringify(name)}`;
    if (/\.\.|^\d+\.\d+\.\d+\.\d+$/.test(name)) return `must not contain ".." or look like an IP address, got ${JSON.stringify(name)}`;
    return undefined;
}
