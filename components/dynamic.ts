// How every dynamic provider in this project reaches the engine.
//
// The engine stores a dynamic provider as the serialized text of its object and
// runs that text in its own provider host process, for create/update and later
// for read and delete. So the object must be self-contained: it captures only
// the module's package name and loads the implementation from node_modules
// (components/ is the workspace package @image-factory/components) when a method
// is called. That keeps state small and portable across clones, lets delete run
// the current code, and avoids serializing test-runner-rewritten imports.
import * as pulumi from "@pulumi/pulumi";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";

/** The implementation a provider module exports as `provider`. */
export type ProviderImpl = Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "delete">> &
    Pick<pulumi.dynamic.ResourceProvider, "read" | "update">;

/**
 * A dynamic provider whose methods load `moduleId` (a package path such as
 * "@image-factory/components/images/build.provider") in the provider host.
 */
export function providerFor(moduleId: string): pulumi.dynamic.ResourceProvider {
    // Everything below runs in the engine's provider host, so it may use only
    // `require` and the captured string.
    const load = (): ProviderImpl => {
        // The host is plain Node; our providers are TypeScript.
        if (!require.extensions[".ts"]) {
            require("ts-node").register({ transpileOnly: true, compilerOptions: { module: "commonjs" } });
        }
        return require(moduleId).provider;
    };
    return {
        check: (olds, news) => load().check(olds, news),
        diff: (id, olds, news) => load().diff(id, olds, news),
        create: (inputs) => load().create(inputs),
        read: (id, props) => {
            const impl = load();
            return impl.read ? impl.read(id, props) : Promise.resolve({ id, props });
        },
        update: (id, olds, news) => {
            const impl = load();
            if (!impl.update) throw new Error(`${moduleId} does not update in place; its diff must replace`);
            return impl.update(id, olds, news);
        },
        delete: (id, props) => load().delete(id, props),
    };
}

/** The value the engine passes for inputs not known yet (during preview): the SDK's own sentinel. */
export const UNKNOWN: string = unknownValue;

/** True when a value (or anything inside it) is not known yet. */
export function isUnknown(value: unknown): boolean {
    if (value === UNKNOWN) return true;
    if (Array.isArray(value)) return value.some(isUnknown);
    if (value && typeof value === "object") return Object.values(value).some(isUnknown);
    return false;
}

/**
 * The keys whose values differ between the stored and the new inputs. Values are
 * compared as JSON; an unknown new value counts as a change.
 */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys?: readonly string[]): string[] {
    const all = keys ?? [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => k !== "__provider");
    return all.filter((k) => isUnknown(news[k]) || JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
}

/** A diff from the keys whose change replaces the resource and those it updates in place. */
export function diffOn(replaceOn: readonly string[], updateOn: readonly string[] = []): ProviderImpl["diff"] {
    return async (_id, olds, news) => {
        const replaces = changedKeys(olds, news, replaceOn);
        const updates = changedKeys(olds, news, updateOn);
        return { changes: replaces.length + updates.length > 0, replaces, deleteBeforeReplace: false };
    };
}

/** What a dynamic resource of the project declares about itself. */
export interface ResourceSpec {
    /** The type, registered as image-factory:<type>. */
    type: string;
    /** The module that exports its `provider` (see providerFor). */
    provider: string;
    /** Keys the provider computes: unknown until it has run (an input of the same key is passed as it is). */
    outputs?: readonly string[];
    /** Inputs that stay secret in state and in outputs (credentials, registry auth). */
    secrets?: readonly string[];
}

/** The base of every dynamic resource here: a subclass is its spec, its typed args and its declared outputs. */
export abstract class FactoryResource extends pulumi.dynamic.Resource {
    protected constructor(spec: ResourceSpec, name: string, args: object, opts?: pulumi.CustomResourceOptions) {
        const props: Record<string, unknown> = { ...args };
        for (const key of spec.outputs ?? []) if (!(key in props)) props[key] = undefined;
        const secrets = spec.secrets ?? [];
        for (const key of secrets) if (props[key] !== undefined) props[key] = pulumi.secret(props[key]);
        const withSecrets = secrets.length ? { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...secrets] } : opts;
        super(providerFor(spec.provider), name, props, withSecrets, "image-factory", spec.type);
    }
}
