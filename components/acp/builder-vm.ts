// BuilderVm: where composes run on the ACP (see render/builder-vm.ts). Composes
// reach it with `connection` (command.remote), after `ready` (cloud-init done):
// `compose(image, job)` builds one catalog image there and pushes it to the site
// registry (render/compose.ts). An ephemeral builder runs once: `release(after)`
// powers it off when the composes are done, and KubeVirt does not start it again.
import * as command from "@pulumi/command";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { declare } from "../kube";
import type { RemoteBuildJob } from "../images";
import { authJson, isLoopback } from "../registry";
import { type BuilderVmInput, renderBuilderVm } from "./render/builder-vm";
import { COMPOSE_SCRIPT, composedDigest, renderComposeInput } from "./render/compose";
import { buildTag } from "./render/pipeline";

export interface Compose {
    /** What the compose pushed: host/repository@sha256:…. */
    ref: pulumi.Output<string>;
    command: command.remote.Command;
}

export interface BuilderVmArgs extends BuilderVmInput {
    provider: k8s.Provider;
    /** The private key matching sshPublicKey: a Pulumi secret. */
    sshPrivateKey: pulumi.Input<string>;
    /** With a NodePort Service: the address of a node composes reach. */
    nodeHost?: string;
    /** What must exist first (the HyperConverged resource, the namespace). */
    dependsOn?: pulumi.Resource[];
}

export class BuilderVm extends pulumi.ComponentResource {
    readonly vm: pulumi.CustomResource;
    readonly service: k8s.core.v1.Service;
    /** How composes reach the builder; the private key inside is secret. */
    readonly connection: pulumi.Output<command.types.input.remote.ConnectionArgs>;
    /** Done when cloud-init has finished (the packages are installed): composes depend on it. */
    readonly ready: command.remote.Command;
    private readonly ephemeral: boolean;
    private readonly builderName: string;

    constructor(name: string, args: BuilderVmArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:acp:BuilderVm", name, {}, opts);
        const { provider, sshPrivateKey, nodeHost, dependsOn = [], ...input } = args;
        if (input.serviceType === "NodePort" && !nodeHost) throw new Error(`BuilderVm ${name}: a NodePort service needs nodeHost, the address of a node composes reach`);
        const base = { parent: this, provider };
        const objs = renderBuilderVm(input);
        this.ephemeral = input.ephemeral;
        this.builderName = name;
        this.vm = declare(objs.vm, { ...base, dependsOn });
        this.service = declare(objs.service, { ...base, dependsOn }) as k8s.core.v1.Service;

        const ingress = this.service.status.apply((s) => s?.loadBalancer?.ingress?.[0]);
        const host = input.serviceType === "NodePort" ? pulumi.output(nodeHost!) : ingress.apply((i) => i?.ip ?? i?.hostname ?? "");
        const port = input.serviceType === "NodePort" ? this.service.spec.apply((s) => s.ports[0].nodePort) : pulumi.output(22);
        this.connection = pulumi.output({
            host,
            port,
            user: input.sshUser,
            privateKey: pulumi.secret(sshPrivateKey),
            // The VM boots and installs packages before sshd answers.
            dialErrorLimit: 60,
            perDialTimeout: 30,
        });
        this.ready = new command.remote.Command(
            `${name}-ready`,
            {
                connection: this.connection,
                // Exit 2 is "done, with recoverable errors" (e.g. a deprecated key): the packages are there.
                create: "sudo cloud-init status --wait >/dev/null; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 2 ]",
                triggers: [this.vm.id],
            },
            { parent: this, dependsOn: [this.vm, this.service] },
        );
        this.registerOutputs({ connection: this.connection });
    }

    /**
     * Builds one image on the builder with buildah and pushes it to
     * `<registry>/<repository>:build-<definitionHash>` (the tag the in-cluster pipeline
     * uses too); the digest it reports is the result.
     * It runs again when the image's definition, context or parent changes.
     */
    compose(image: string, args: RemoteBuildJob): Compose {
        const target = `${args.registry}/${args.repository}:${buildTag(args.definitionHash)}`;
        // Everything reaches the script on stdin, the credentials inside: stdin is a secret.
        const stdin = pulumi.secret(
            pulumi.all([args.parentRef, args.labels, args.auth]).apply(([parentRef, labels, auth]) =>
                renderComposeInput({
                    target,
                    parentRef,
                    tlsVerify: !isLoopback(args.registry),
                    labels,
                    context: args.context,
                    authJson: auth ? authJson(args.registry, auth) : undefined,
                }),
            ),
        );
        const cmd = new command.remote.Command(
            `${this.builderName}-compose-${image}`,
            { connection: this.connection, create: COMPOSE_SCRIPT, stdin },
            { parent: this, dependsOn: [this.ready], customTimeouts: { create: "60m", update: "60m" } },
        );
        return { command: cmd, ref: cmd.stdout.apply((out) => `${target.slice(0, target.lastIndexOf(":"))}@${composedDigest(out)}`) };
    }

    /**
     * Powers an ephemeral builder off once `after` (the composes) are done. The guest
     * schedules its own poweroff so that the SSH session ends cleanly first.
     */
    release(after: pulumi.CustomResource[]): command.remote.Command {
        if (!this.ephemeral) throw new Error(`BuilderVm ${this.builderName} is not ephemeral: it stays up for the next composes`);
        return new command.remote.Command(
            `${this.builderName}-release`,
            {
                connection: this.connection,
                create: "sudo systemd-run --on-active=5 systemctl poweroff",
                // Again for a new VM (a new generation) or new work.
                triggers: [this.vm.id, ...after.map((r) => r.id)],
            },
            { parent: this, dependsOn: [this.ready, ...after] },
        );
    }
}
