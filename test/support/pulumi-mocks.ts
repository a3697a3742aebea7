import { createHash } from "node:crypto";
// Runs a piece of a Pulumi program under pulumi.runtime.setMocks and records
// every resource it registers: type, name, inputs (secrets still wrapped), the
// provider, the parent and the dependencies. Any invoke is an error: the code
// under test must not read from the cloud while it declares.
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";

export interface Registered {
    type: string;
    name: string;
    /** The inputs as the engine receives them; secret values are { [sig]: secretSig, value }. */
    inputs: Record<string, any>;
    /** The provider reference ("<urn>::<id>") when one was given. */
    provider?: string;
    /** The parent's name (undefined for the test's root). */
    parent?: string;
    dependsOn: string[];
}

export interface Capture<T> {
    result: T;
    resources: Map<string, Registered>;
    /** "<type>:<name>" of every resource, in registration order. */
    names: string[];
}

/** Mocked outputs some resources report once created (what the cluster would fill in). */
/**
 * What a compose on the builder VM prints once it pushed (components/acp/render/compose.ts):
 * its target's repository and a digest made from its input. Undefined while the input is not known.
 */
export function composeOutput(stdin: unknown): string | undefined {
    const input = unwrapSecrets(stdin);
    if (typeof input !== "string") return undefined;
    const target = Buffer.from(input.split("\n")[0].slice("target =".length), "base64").toString();
    return `composed ${target.slice(0, target.lastIndexOf(":"))}@sha256:${createHash("sha256").update(input).digest("hex")}\n`;
}

function outputsOf(type: string, inputs: Record<string, any>): Record<string, any> {
    if (type === "command:remote:Command") {
        const stdout = composeOutput(inputs.stdin);
        return stdout === undefined ? inputs : { ...inputs, stdout };
    }
    if (type === "kubernetes:core/v1:Service") {
        const ports = (inputs.spec?.ports ?? []).map((p: any) => ({ ...p, nodePort: 30022 }));
        return { ...inputs, spec: { ...inputs.spec, ports }, status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } };
    }
    return inputs;
}

export async function capture<T>(fn: (opts: pulumi.ComponentResourceOptions) => T, stack = "test"): Promise<Capture<T>> {
    const byUrnName = new Map<string, Registered>();
    const order: string[] = [];
    const unmocked: string[] = [];
    const names = new WeakMap<pulumi.Resource, string>();
    const options = new Map<string, { parent?: pulumi.Resource; dependsOn: pulumi.Resource[] }>();
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                if (args.type === "test:index:Root") return { id: undefined, state: {} };
                byUrnName.set(args.name, { type: args.type, name: args.name, inputs: args.inputs, provider: args.provider, dependsOn: [] });
                order.push(`${args.type}:${args.name}`);
                return { id: `${args.name}-id`, state: outputsOf(args.type, args.inputs) };
            },
            call(args) {
                unmocked.push(args.token);
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "image-factory",
        stack,
        false,
    );
    const root = new pulumi.ComponentResource("test:index:Root", "root", {}, {
        transformations: [
            (args) => {
                names.set(args.resource, args.name);
                const dependsOn = args.opts.dependsOn;
                options.set(args.name, { parent: args.opts.parent, dependsOn: Array.isArray(dependsOn) ? (dependsOn as pulumi.Resource[]) : dependsOn ? [dependsOn as pulumi.Resource] : [] });
                return undefined;
            },
        ],
    });
    const result = fn({ parent: root });
    await (settings as any).waitForRPCs();
    if (unmocked.length) throw new Error(`unmocked invokes: ${unmocked.join(", ")}`);
    for (const [name, o] of options) {
        const r = byUrnName.get(name);
        if (!r) continue;
        r.parent = o.parent && o.parent !== root ? names.get(o.parent) : undefined;
        r.dependsOn = o.dependsOn.map((d) => names.get(d) ?? "?");
    }
    return { result, resources: byUrnName, names: order };
}

export function isSecretValue(v: unknown): boolean {
    return !!v && typeof v === "object" && (v as any)[specialSigKey] === specialSecretSig;
}

/** The inputs with secret wrappers replaced by their values (to validate what would be sent). */
export function unwrapSecrets(v: any): any {
    if (isSecretValue(v)) return unwrapSecrets(v.value);
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    return v;
}

/** The inputs with every secret value replaced by "[secret]": what may show in plain state. */
export function withoutSecrets(v: any): any {
    if (isSecretValue(v)) return "[secret]";
    if (Array.isArray(v)) return v.map(withoutSecrets);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutSecrets(x)]));
    return v;
}

/** Resolves an Output's value and whether it is secret. */
export function resolve<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    return new Promise((res) => {
        pulumi.all([o, pulumi.isSecret(o)]).apply(([value, secret]) => res({ value: value as T, secret }));
    });
}
