// The one vocabulary for user input: schemas written once with TypeBox, which
// gives both the static type (Static<typeof X>) and the JSON Schema that editors
// and schemas/*.schema.json use, and one validator that turns every failure into
// a problem naming its key, in one style: "<key>: must be <hint>, got <value>".
//
// Rules a schema cannot say (parents, cycles, file sources, secrets that go with
// a key) live next to each schema's use, in one rules function per input kind.
import { type SchemaOptions, type Static, type TSchema, Type } from "@sinclair/typebox";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";

export { type Static, Type };

/** The hint that completes "must be …" when a value does not fit. */
interface Hinted extends SchemaOptions {
    hint?: string;
    /** Also say when the value has a shell metacharacter (names that end up in a shell or a Containerfile). */
    shellSafe?: boolean;
}

/** A string that must match `pattern`; `hint` completes "must be …". */
export const Pattern = (pattern: RegExp, hint: string, options: Hinted = {}) => Type.String({ pattern: pattern.source, hint, ...options });
/** A whole number in [min, max]. */
export const Whole = (min: number, max: number, options: SchemaOptions = {}) => Type.Integer({ minimum: min, maximum: max, hint: `a whole number from ${min} to ${max}`, ...options });
/** One of a fixed list of strings. */
export const OneOf = <T extends string>(values: readonly T[], options: SchemaOptions = {}) => Type.Unsafe<T>(Type.String({ enum: [...values], ...options }));
/** A mapping with exactly these keys (others are reported as unknown). */
export const Strict = <P extends Parameters<typeof Type.Object>[0]>(properties: P, options: SchemaOptions = {}) => Type.Object(properties, { additionalProperties: false, ...options });
/** A mapping from names (matching `key`, if given) to values. */
export const MapOf = <V extends TSchema>(value: V, key?: { pattern: RegExp; hint: string }, options: SchemaOptions = {}) =>
    Type.Unsafe<Record<string, Static<V>>>({
        type: "object",
        additionalProperties: value,
        ...(key ? { propertyNames: { pattern: key.pattern.source, hint: key.hint } } : {}),
        ...options,
    });
/** Exactly one of these keys must be present; `message` says so when not. */
export const exactlyOne = (keys: string[], message: string) => ({ oneOf: keys.map((k) => ({ required: [k] })), "x-exactly-one": message });

// Shared patterns: each is written once here.
export const PATTERNS = {
    /** A DNS label: Kubernetes names, site names, disk names. */
    dnsLabel: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    /** One OpenSSH public key line. ssh-dss (DSA) is not accepted: OpenSSH disabled it. */
    sshPublicKey: /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+=*( [^\n\r]*)?$/,
    /** host/repository[:tag][@digest] */
    imageRef: /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._/-]+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
    tag: /^[\w][\w.-]{0,127}$/,
    digest: /^sha256:[a-f0-9]{64}$/,
    /** Octal file mode such as 0644. */
    mode: /^0?[0-7]{3,4}$/,
    /** An absolute path in an image; no control character (paths are written into Containerfiles and scripts, one per line). */
    imagePath: /^\/[ -~\u00a0-\uffff]*$/,
};

const SHELL_META = /[;&|`$<>(){}[\]*?!~#'"\\\s]/;

/** Every problem found, each "<where><key>: <message>". */
export class ValidationProblems {
    readonly list: string[] = [];
    constructor(private readonly where: (key: string) => string) {}
    add(key: string, message: string): void {
        this.list.push(`${this.where(key)}${message}`);
    }
}

const OPTIONS = { allErrors: true, strict: false, verbose: true, useDefaults: true, unicodeRegExp: false, validateFormats: false } as const;
// YAML reads `version: 1.0` as a number; a catalog means the string.
const validators = { strict: new Ajv(OPTIONS), coercing: new Ajv({ ...OPTIONS, coerceTypes: true }) };
const compiled = { strict: new WeakMap<object, ValidateFunction>(), coercing: new WeakMap<object, ValidateFunction>() };

/** "a.b[0].c" from a JSON pointer. */
function keyOf(pointer: string, extra?: string): string {
    const parts = pointer
        .split("/")
        .slice(1)
        .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (extra !== undefined) parts.push(extra);
    return parts.reduce((key, p) => (/^\d+$/.test(p) ? `${key}[${p}]` : key ? `${key}.${p}` : p), "");
}

/** A value as a message shows it. */
export function describe(v: unknown): string {
    return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v === "object" ? "a mapping" : JSON.stringify(v);
}

const TYPE_HINTS: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", boolean: "true or false", integer: "a whole number", number: "a number" };

function hintOf(e: ErrorObject): string {
    const s = (e.parentSchema ?? {}) as Record<string, any>;
    if (s.hint) return s.hint;
    if (s.enum) return `one of ${s.enum.map((x: unknown) => JSON.stringify(x)).join(", ")}`;
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    return TYPE_HINTS[type] ?? `valid (${e.message})`;
}

/** What validate found: the value with defaults filled in, and which keys failed. */
export interface Validated<T> {
    /** The input's copy, defaults filled in; typed as valid, so read it only where `failed` is false. */
    value: T;
    ok: boolean;
    /** Whether a problem was reported at `key` or under it: rules skip such values. */
    failed(key: string): boolean;
}

/**
 * Validates a copy of `input` against `schema`, filling in the schema's defaults,
 * and adds each problem to `problems`, one per key (under `base`).
 */
export function validate<S extends TSchema>(schema: S, input: unknown, problems: ValidationProblems, options: { base?: string; coerceScalars?: boolean } = {}): Validated<Static<S>> {
    const kind = options.coerceScalars ? "coercing" : "strict";
    let check = compiled[kind].get(schema);
    if (!check) {
        check = validators[kind].compile(schema);
        compiled[kind].set(schema, check);
    }
    const base = options.base ?? "";
    const value = structuredClone(input) as Static<S>;
    const failedKeys: string[] = [];
    const result: Validated<Static<S>> = {
        value,
        ok: true,
        failed: (key) => failedKeys.some((f) => f === key || f.startsWith(`${key}.`) || f.startsWith(`${key}[`) || key.startsWith(`${f}.`) || key.startsWith(`${f}[`)),
    };
    if (check(value)) return result;
    result.ok = false;
    let errors = check.errors ?? [];
    // A union (anyOf): keep the errors of the branch whose type fits the value.
    for (const u of errors.filter((e) => e.keyword === "anyOf")) {
        const branches = new Map<string, ErrorObject[]>();
        for (const e of errors) {
            const m = e.schemaPath.startsWith(`${u.schemaPath}/`) ? /^(\d+)/.exec(e.schemaPath.slice(u.schemaPath.length + 1)) : null;
            if (m) branches.set(m[1], [...(branches.get(m[1]) ?? []), e]);
        }
        const fitting = [...branches.values()].filter((list) => !list.some((e) => e.keyword === "type" && e.instancePath === u.instancePath));
        const drop = new Set([...branches.values()].flat().filter((e) => fitting.length !== 1 || !fitting[0].includes(e)));
        if (fitting.length === 1) drop.add(u);
        errors = errors.filter((e) => !drop.has(e));
    }
    for (const e of errors) {
        const extra =
            e.keyword === "required"
                ? e.params.missingProperty
                : e.keyword === "additionalProperties"
                  ? e.params.additionalProperty
                  : e.keyword === "propertyNames"
                    ? e.params.propertyName
                    : (e as { propertyName?: string }).propertyName;
        failedKeys.push(keyOf(e.instancePath, extra));
    }
    // An exactly-one rule's branches only say "required"; its own message says it all.
    const oneOfs = errors.filter((e) => e.keyword === "oneOf").map((e) => e.schemaPath);
    const typeFailed = new Set(errors.filter((e) => e.keyword === "type").map((e) => e.instancePath));
    const reported = new Set<string>();
    const join = (key: string) => (base && key ? `${base}.${key}` : base || key);
    for (const e of errors) {
        if (oneOfs.some((p) => e.schemaPath.startsWith(`${p}/`))) continue;
        if (e.keyword === "propertyNames") continue; // its inner error names the key
        const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
        if (e.keyword === "required") {
            problems.add(join(keyOf(e.instancePath, e.params.missingProperty)), "is required");
        } else if (e.keyword === "additionalProperties") {
            const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
            problems.add(join(keyOf(e.instancePath, e.params.additionalProperty)), `unknown key (expected one of: ${allowed.join(", ")})`);
        } else if (e.keyword === "oneOf") {
            if (typeFailed.has(e.instancePath)) continue;
            problems.add(join(keyOf(e.instancePath)), (e.parentSchema as Record<string, string>)["x-exactly-one"] ?? "matches none of the allowed forms");
        } else if (propertyName !== undefined) {
            problems.add(join(keyOf(e.instancePath, propertyName)), `the key must be ${hintOf(e)}, got ${JSON.stringify(propertyName)}`);
        } else {
            // One problem per value, however many of its constraints fail.
            if (reported.has(e.instancePath)) continue;
            reported.add(e.instancePath);
            const meta = (e.parentSchema as Hinted)?.shellSafe && typeof e.data === "string" && SHELL_META.test(e.data) ? " (it contains a shell metacharacter or space)" : "";
            problems.add(join(keyOf(e.instancePath)), `must be ${hintOf(e)}, got ${describe(e.data)}${meta}`);
        }
    }
    return result;
}

/** The JSON Schema document for a schema, as published in schemas/: hints become descriptions. */
export function jsonSchema(schema: TSchema, title: string): object {
    const strip = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(strip);
        if (!v || typeof v !== "object") return v;
        const o = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        const annotation = typeof o.description === "string" ? o.description : undefined;
        const note = annotation ?? (o.hint ? `Must be ${o.hint}.` : o["x-exactly-one"]);
        if (note !== undefined) out.description = note;
        for (const [k, inner] of Object.entries(o)) if (!["hint", "shellSafe", "x-exactly-one"].includes(k) && !(k === "description" && annotation !== undefined)) out[k] = strip(inner);
        return out;
    };
    return { $schema: "http://json-schema.org/draft-07/schema#", title, ...(strip(JSON.parse(JSON.stringify(schema))) as object) };
}
