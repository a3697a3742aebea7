// TektonPipeline: the in-cluster pipeline and its trigger (see render/pipeline.ts),
// and the run that builds each new rendering once.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { declare } from "../kube";
import { renderTektonPipeline, type TektonPipelineInput, WEBHOOK_SECRET_KEY } from "./render/pipeline";

export interface TektonPipelineArgs extends TektonPipelineInput {
    provider: k8s.Provider;
    /** The shared secret push webhooks are signed with (a Pulumi secret; the stack's webhookSecret). */
    webhookSecret: pulumi.Input<string>;
    /** What must exist first (OpenShift Pipelines' Subscription, the service accounts, the pull secret). */
    dependsOn?: pulumi.Resource[];
}

export class TektonPipeline extends pulumi.ComponentResource {
    readonly pipeline: pulumi.CustomResource;
    readonly listener: pulumi.CustomResource;
    /** The run for this rendering. */
    readonly run: pulumi.CustomResource;
    /** The images the Pipeline builds, parents first. */
    readonly order: string[];

    constructor(name: string, args: TektonPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("image-factory:acp:TektonPipeline", name, {}, opts);
        const { provider, dependsOn = [], webhookSecret, ...input } = args;
        const objs = renderTektonPipeline(input);
        const base = { parent: this, provider };
        this.order = objs.order;
        const tasks = objs.tasks.map((t) => declare(t, { ...base, dependsOn }));
        this.pipeline = declare(objs.pipeline, { ...base, dependsOn: [...dependsOn, ...tasks] });
        const binding = declare(objs.trigger.binding, { ...base, dependsOn });
        const template = declare(objs.trigger.template, { ...base, dependsOn: [...dependsOn, this.pipeline] });
        const secret = declare(objs.trigger.secret, { ...base, dependsOn }, { stringData: pulumi.secret(pulumi.output(webhookSecret).apply((v) => ({ [WEBHOOK_SECRET_KEY]: v }))) });
        this.listener = declare(objs.trigger.listener, { ...base, dependsOn: [...dependsOn, secret, binding, template] });
        if (objs.trigger.route) declare(objs.trigger.route, { ...base, dependsOn: [this.listener] });
        // A new rendering gets a new run (its name carries the rendering's digest). Runs are
        // kept when superseded: they are the build history, which Tekton's pruner ages out.
        this.run = declare(objs.run, { ...base, dependsOn: [...dependsOn, this.pipeline], retainOnDelete: true });
        this.registerOutputs({ order: this.order });
    }
}
