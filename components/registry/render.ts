// The site's image registry on the ACP, rendered as plain objects: either the
// OpenShift internal registry exposed by a Route, or a registry Deployment with
// its volume, Service and Route; the pull secrets; and, for disconnected sites,
// an ImageDigestMirrorSet that sends pulls from source registries to the hub.
//
// Secret values never pass through here except in renderPullSecret/renderCdiSecret,
// which the component calls inside a secret Output.
import { DEFAULT_WAIT_SECONDS, type KubeObject, siteLabels } from "../kube";

export const REGISTRY_MODES = ["internal", "deployment"] as const;
export type RegistryMode = (typeof REGISTRY_MODES)[number];

/** The OpenShift internal registry: its namespace, Service and in-cluster address. */
export const INTERNAL_REGISTRY = { namespace: "openshift-image-registry", service: "image-registry", port: "5000-tcp", host: "image-registry.openshift-image-registry.svc:5000" };

export interface RegistryInput {
    site: string;
    mode: RegistryMode;
    /** The registry's external name (the site's registry.url): the Route's host. */
    host: string;
    /** The namespace of this program's workloads (the registry Deployment and pull secrets live here). */
    namespace: string;
    /** The repository prefix images go to; with the internal registry it is an OpenShift project. */
    repositoryNamespace: string;
    deployment: { image: string; htpasswdImage: string; storage: string; storageClass?: string };
    /** Service accounts that push (internal mode grants them system:image-builder in the repository namespace). */
    pushers: Array<{ namespace: string; serviceAccount: string }>;
    /** Names of the secrets this renders. */
    secretNames: { pull: string; cdi: string; credentials: string };
    /** Disconnected site: pulls from these source registries go to the hub's mirror. */
    mirror?: { registry: string; sources: string[] };
    /** How long `up` waits for the registry's volume, Service and Deployment to be ready (default DEFAULT_WAIT_SECONDS). */
    waitSeconds?: number;
}

export interface RegistryObjects {
    /** Where pods in the cluster reach the registry (host:port). */
    clusterHost: string;
    objects: KubeObject[];
    mirrorSet?: KubeObject;
}

const REGISTRY_NAME = "registry";

export function renderRegistry(input: RegistryInput): RegistryObjects {
    const labels = siteLabels(input.site, "registry");
    const objects: KubeObject[] = [];
    let clusterHost: string;
    const route = (namespace: string, service: string, targetPort: string): KubeObject => ({
        apiVersion: "route.openshift.io/v1",
        kind: "Route",
        metadata: { name: `${REGISTRY_NAME}-${input.site}`, namespace, labels },
        spec: {
            host: input.host,
            to: { kind: "Service", name: service, weight: 100 },
            port: { targetPort },
            // The router re-encrypts to the registry, whose certificate the service CA signs.
            tls: { termination: "reencrypt", insecureEdgeTerminationPolicy: "Redirect" },
            wildcardPolicy: "None",
        },
    });

    if (input.mode === "internal") {
        clusterHost = INTERNAL_REGISTRY.host;
        if (input.repositoryNamespace !== input.namespace) {
            objects.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: input.repositoryNamespace, labels } });
        }
        objects.push(route(INTERNAL_REGISTRY.namespace, INTERNAL_REGISTRY.service, INTERNAL_REGISTRY.port));
        for (const p of input.pushers) {
            objects.push({
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "RoleBinding",
                metadata: { name: `image-builder-${p.namespace}-${p.serviceAccount}`, namespace: input.repositoryNamespace, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:image-builder" },
                subjects: [{ kind: "ServiceAccount", name: p.serviceAccount, namespace: p.namespace }],
            });
        }
    } else {
        const ns = input.namespace;
        clusterHost = `${REGISTRY_NAME}.${ns}.svc:5000`;
        const selector = { "app.kubernetes.io/name": REGISTRY_NAME, "image-factory/site": input.site };
        const tlsSecret = `${REGISTRY_NAME}-tls`;
        // The kubernetes provider waits for a bound volume, a Service with endpoints and a rolled-out
        // Deployment; without this it would wait its own 10 minutes, not the site's acp.waitTimeoutSeconds.
        const wait = { "pulumi.com/timeoutSeconds": String(input.waitSeconds ?? DEFAULT_WAIT_SECONDS) };
        objects.push(
            {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                metadata: { name: REGISTRY_NAME, namespace: ns, labels, annotations: wait },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    resources: { requests: { storage: input.deployment.storage } },
                    ...(input.deployment.storageClass ? { storageClassName: input.deployment.storageClass } : {}),
                },
            },
            {
                apiVersion: "v1",
                kind: "Service",
                metadata: {
                    name: REGISTRY_NAME,
                    namespace: ns,
                    labels,
                    // OpenShift's service CA issues the registry's serving certificate into this secret.
                    annotations: { "service.beta.openshift.io/serving-cert-secret-name": tlsSecret, ...wait },
                },
                spec: { selector, ports: [{ name: "https", port: 5000, targetPort: 5000, protocol: "TCP" }] },
            },
            {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: REGISTRY_NAME, namespace: ns, labels, annotations: wait },
                spec: {
                    replicas: 1,
                    // One pod at a time: the volume is ReadWriteOnce.
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: selector },
                    template: {
                        metadata: { labels: { ...labels, ...selector } },
                        spec: {
                            initContainers: [
                                {
                                    // bcrypt htpasswd from the credentials secret; the password goes in on stdin, not argv.
                                    name: "htpasswd",
                                    image: input.deployment.htpasswdImage,
                                    command: ["/bin/sh", "-c", 'printf "%s" "$REGISTRY_PASSWORD" | htpasswd -niB "$REGISTRY_USERNAME" > /auth/htpasswd'],
                                    env: [
                                        { name: "REGISTRY_USERNAME", valueFrom: { secretKeyRef: { name: input.secretNames.credentials, key: "username" } } },
                                        { name: "REGISTRY_PASSWORD", valueFrom: { secretKeyRef: { name: input.secretNames.credentials, key: "password" } } },
                                    ],
                                    volumeMounts: [{ name: "auth", mountPath: "/auth" }],
                                },
                            ],
                            containers: [
                                {
                                    name: REGISTRY_NAME,
                                    image: input.deployment.image,
                                    ports: [{ name: "https", containerPort: 5000, protocol: "TCP" }],
                                    env: [
                                        { name: "REGISTRY_HTTP_ADDR", value: "0.0.0.0:5000" },
                                        { name: "REGISTRY_HTTP_TLS_CERTIFICATE", value: "/certs/tls.crt" },
                                        { name: "REGISTRY_HTTP_TLS_KEY", value: "/certs/tls.key" },
                                        { name: "REGISTRY_AUTH", value: "htpasswd" },
                                        { name: "REGISTRY_AUTH_HTPASSWD_REALM", value: `image-factory ${input.site}` },
                                        { name: "REGISTRY_AUTH_HTPASSWD_PATH", value: "/auth/htpasswd" },
                                        // Tags move and releases are rolled back by digest: deletes must work.
                                        { name: "REGISTRY_STORAGE_DELETE_ENABLED", value: "true" },
                                        { name: "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", value: "/var/lib/registry" },
                                    ],
                                    // /v2/ answers 401 without credentials, so probe the port.
                                    readinessProbe: { tcpSocket: { port: 5000 }, periodSeconds: 5 },
                                    livenessProbe: { tcpSocket: { port: 5000 }, periodSeconds: 20, failureThreshold: 3 },
                                    resources: { requests: { cpu: "100m", memory: "256Mi" } },
                                    volumeMounts: [
                                        { name: "data", mountPath: "/var/lib/registry" },
                                        { name: "certs", mountPath: "/certs", readOnly: true },
                                        { name: "auth", mountPath: "/auth", readOnly: true },
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "data", persistentVolumeClaim: { claimName: REGISTRY_NAME } },
                                { name: "certs", secret: { secretName: tlsSecret } },
                                { name: "auth", emptyDir: {} },
                            ],
                        },
                    },
                },
            },
            route(ns, REGISTRY_NAME, "https"),
        );
    }

    const mirrorSet: KubeObject | undefined = input.mirror && {
        apiVersion: "config.openshift.io/v1",
        kind: "ImageDigestMirrorSet",
        metadata: { name: `image-factory-${input.site}-hub-mirror`, labels },
        spec: {
            imageDigestMirrors: input.mirror.sources.map((source) => ({
                source,
                // The hub mirrors each source under its own name: <hub>/<source>.
                mirrors: [`${input.mirror!.registry}/${source}`],
                // Disconnected: never fall back to the source.
                mirrorSourcePolicy: "NeverContactSource",
            })),
        },
    };
    return { clusterHost, objects, mirrorSet };
}

/**
 * The secrets made from the registry credentials: the pull secret
 * (kubernetes.io/dockerconfigjson, for the external and the in-cluster address),
 * the secret CDI imports disks with (its registry source's secretRef), and in
 * deployment mode the credentials the registry's htpasswd is made from.
 */
export function renderRegistrySecrets(input: RegistryInput, clusterHost: string, username: string, password: string): KubeObject[] {
    const labels = siteLabels(input.site, "registry");
    const secret = (name: string, type: string, stringData: Record<string, string>): KubeObject => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: input.namespace, labels },
        type,
        stringData,
    });
    const auth = Buffer.from(`${username}:${password}`).toString("base64");
    const auths = Object.fromEntries([input.host, clusterHost].map((h) => [h, { auth }]));
    return [
        secret(input.secretNames.pull, "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": JSON.stringify({ auths }) }),
        secret(input.secretNames.cdi, "Opaque", { accessKeyId: username, secretKey: password }),
        ...(input.mode === "deployment" ? [secret(input.secretNames.credentials, "Opaque", { username, password })] : []),
    ];
}
