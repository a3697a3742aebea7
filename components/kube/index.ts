// Kubernetes objects on the ACP. Every object is first rendered as a plain value
// by a pure function (components/acp/render/*, components/registry/render.ts), so
// tests can validate exactly what is sent against the upstream schemas; this file
// turns a rendered object into a Pulumi resource through the site's explicit
// provider (never the ambient kubeconfig of whoever runs `pulumi up`).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ObjectMeta {
    name: string;
    /** Only in templates of objects that others create (a TriggerTemplate's PipelineRun). */
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}

/** A rendered Kubernetes object: plain JSON, ready to validate or apply. */
export interface KubeObject {
    apiVersion: string;
    kind: string;
    metadata: ObjectMeta;
    [field: string]: unknown;
}

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "image-factory" } as const;

/** How long `up` waits for an object to report ready, by default: operators install in minutes, VMs boot, disks import. */
export const DEFAULT_WAIT_SECONDS = 1800;

/**
 * Annotations that make Pulumi's Kubernetes provider wait, after creating or
 * updating the object, until `condition` holds ("condition=Ready",
 * "jsonpath={.status.phase}=Succeeded"), and fail after `timeoutSeconds` with
 * the object and the condition named.
 */
export function awaitAnnotations(condition: string, timeoutSeconds = DEFAULT_WAIT_SECONDS): Record<string, string> {
    return { "pulumi.com/waitFor": condition, "pulumi.com/timeoutSeconds": String(timeoutSeconds) };
}

/** The labels every object this program makes carries. */
export function siteLabels(site: string, component: string): Record<string, string> {
    return { ...MANAGED_BY, "app.kubernetes.io/part-of": "image-factory", "app.kubernetes.io/component": component, "image-factory/site": site };
}

/** The provider for the site's cluster, from the stack's kubeconfig (a secret). */
export function kubeProvider(name: string, kubeconfig: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): k8s.Provider {
    return new k8s.Provider(
        name,
        {
            // Kept secret however the caller got it: the kubeconfig carries cluster credentials.
            kubeconfig: pulumi.secret(kubeconfig),
            // Server-side apply: this program owns only the fields it sets (operators own the rest).
            enableServerSideApply: true,
        },
        opts,
    );
}

type KubeCtor = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

// Core kinds get their typed resources (field schemas, await logic); everything
// else is a CRD and goes through apiextensions.CustomResource.
const TYPED: Record<string, KubeCtor> = {
    "v1/Namespace": k8s.core.v1.Namespace,
    "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
    "v1/Service": k8s.core.v1.Service,
    "v1/Secret": k8s.core.v1.Secret,
    "v1/ConfigMap": k8s.core.v1.ConfigMap,
    "v1/PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
    "apps/v1/Deployment": k8s.apps.v1.Deployment,
    "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
    "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
};

/** The Pulumi resource name of an object: kind, namespace and name keep it unique in a stack. */
export function resourceName(obj: KubeObject): string {
    return [obj.kind.toLowerCase(), obj.metadata.namespace, obj.metadata.name].filter(Boolean).join("-");
}

/**
 * Declares a rendered object. `fields` overrides top-level fields with Inputs
 * (for values only known at deploy time, such as secrets); the rendered object
 * stays what the tests validated.
 */
export function declare(obj: KubeObject, opts: pulumi.CustomResourceOptions, fields: Record<string, pulumi.Input<unknown>> = {}): pulumi.CustomResource {
    const args = { ...obj, ...fields };
    const Ctor = TYPED[`${obj.apiVersion}/${obj.kind}`];
    return Ctor ? new Ctor(resourceName(obj), args, opts) : new k8s.apiextensions.CustomResource(resourceName(obj), args as k8s.apiextensions.CustomResourceArgs, opts);
}

export function objectKey(obj: KubeObject): string {
    return `${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}
