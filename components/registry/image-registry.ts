// ImageRegistry: where the site's images are hosted on the ACP (see render.ts):
// the internal registry behind a Route, or a registry Deployment; pull secrets
// made from the registry credentials (Pulumi secrets); the hub mirror for
// disconnected sites.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { declare } from "../kube";
import { type RegistryInput, renderRegistry, renderRegistrySecrets } from "./render";

export interface ImageRegistryArgs extends RegistryInput {
    provider: k8s.Provider;
    /** Push/pull credentials; the password is a Pulumi secret. Required in deployment mode. */
    credentials?: { username: string; password: pulumi.Input<string> };
    /** What must exist first (the workload namespace). */
    dependsOn?: pulumi.Resource[];
}

export class ImageRegistry extends pulumi.ComponentResource {
    /** The registry's external name (the Route's host). */
    readonly host: string;
    /** host:port pods in the cluster push to and pull from. */
    readonly clusterHost: string;
    /** The dockerconfigjson secret with the credentials, when there are credentials. */
    readonly pullSecretName?: string;
    /** The secret CDI imports disks from the registry with, when there are credentials. */
    readonly cdiSecretName?: string;
    readonly route: pulumi.CustomResource;
    readonly mirrorSet?: pulumi.CustomResource;
    readonly secrets: pulumi.CustomResource[] = [];

    constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:registry:ImageRegistry", name, {}, opts);
        const { provider, credentials, dependsOn = [], ...input } = args;
        if (input.mode === "deployment" && !credentials) throw new Error(`ImageRegistry ${name}: a registry Deployment needs credentials (it serves with htpasswd)`);
        const base = { parent: this, provider };
        const r = renderRegistry(input);
        this.host = input.host;
        this.clusterHost = r.clusterHost;

        if (credentials) {
            // The shapes are fixed; only the values are secret, so render once with none
            // to declare each Secret, and fill stringData inside a secret Output.
            const withPassword = pulumi.secret(pulumi.output(credentials.password).apply((pw) => renderRegistrySecrets(input, r.clusterHost, credentials.username, pw)));
            renderRegistrySecrets(input, r.clusterHost, credentials.username, "").forEach((shape, i) => {
                this.secrets.push(
                    declare(shape, { ...base, dependsOn }, { stringData: pulumi.secret(withPassword.apply((all) => all[i].stringData as Record<string, string>)) }),
                );
            });
            this.pullSecretName = input.secretNames.pull;
            this.cdiSecretName = input.secretNames.cdi;
        }

        const declared = new Map<string, pulumi.CustomResource>();
        for (const obj of r.objects) {
            // The registry Deployment reads the credentials secret; everything waits for the namespace.
            const after = obj.kind === "Deployment" ? [...dependsOn, ...this.secrets, ...declared.values()] : obj.kind === "RoleBinding" ? [...dependsOn, ...declared.values()] : dependsOn;
            declared.set(`${obj.kind}/${obj.metadata.name}`, declare(obj, { ...base, dependsOn: after }));
        }
        this.route = [...declared.entries()].find(([k]) => k.startsWith("Route/"))![1];
        this.mirrorSet = r.mirrorSet && declare(r.mirrorSet, base);
        this.registerOutputs({ host: this.host, clusterHost: this.clusterHost });
    }
}
