// image-factory:acp and the secrets of roles acp and hub: the cluster's services.
import type * as pulumi from "@pulumi/pulumi";
import type { BootSource, BuilderVmInput, OperatorName, TestMode, ToolImages } from "../components/acp";
import type { RegistryMode } from "../components/registry";
import { validate } from "../components/schema";
import type { Section } from "./config";
import { StackConfig } from "./config-schema";

export interface AcpConfig {
    /** The namespace of this program's workloads on the cluster: pipelines, builder VMs, VM templates. */
    namespace: string;
    /** How long `up` waits for an operator to install, HyperConverged to be available, a VM to be Ready, a disk to import. */
    waitTimeoutSeconds: number;
    operators: Record<OperatorName, { channel: string; installPlanApproval: "Automatic" | "Manual" }>;
    /** The OLM CatalogSource operators install from. */
    catalogSource: { name: string; namespace: string };
    registry: { mode: RegistryMode; image: string; htpasswdImage: string; storage: string; storageClass?: string };
    /** Disconnected site: pulls from these source registries go to the hub's mirror. */
    mirror?: { registry: string; sources: string[] };
    builderVm?: Omit<BuilderVmInput, "site" | "namespace" | "serviceType" | "generation"> & {
        /** LoadBalancer, or NodePort with the address of a node composes reach. */
        service: { type: "LoadBalancer" } | { type: "NodePort"; host: string };
        /** Catalog images built on the builder (composes) rather than on this machine. */
        composes: string[];
    };
    pipeline?: {
        git: { url: string; revision: string };
        /** Which catalog images the cluster builds (their ancestors come along). Default: all. */
        images?: string[];
        testMode: TestMode;
        toolImages: ToolImages;
        workspaceSize: string;
        /** Exposes the EventListener by a Route on this host, for git servers outside the cluster. */
        webhookHost?: string;
    };
    vmTemplates?: {
        /** Which released disk images get a template. Default: all. */
        images?: string[];
        storage: string;
        storageClass?: string;
        cpu: number;
        memory: string;
    };
}

/** What a site on an ACP (roles acp and hub) carries besides the common sections. */
export interface AcpSiteParts {
    acp: AcpConfig;
    /** Pulumi secret (image-factory:kubeconfig): the site cluster's kubeconfig. */
    kubeconfig: pulumi.Output<string>;
    /** Pulumi secret (image-factory:sshPrivateKey): the key composes log in to the builder VM with. */
    sshPrivateKey?: pulumi.Output<string>;
    /** Pulumi secret (image-factory:webhookSecret): push webhooks to the in-cluster trigger are signed with it. */
    webhookSecret?: pulumi.Output<string>;
}

/**
 * The acp section and the secrets it needs, checked against the site's role and registry.
 * Roles acp and hub get their parts (undefined when a problem was found); role local
 * must set none of them.
 */
export function acpSection(
    { values: v, raw, fail, failed, secret, problems }: Section,
    role: "local" | "acp" | "hub" | undefined,
    url: string | undefined,
    username: string | undefined,
): AcpSiteParts | undefined {
    if (role !== "acp" && role !== "hub") {
        if (role !== undefined) {
            if (raw.values.acp !== undefined) fail("acp", `is only for roles acp and hub (this site's role is ${role})`);
            if (secret("kubeconfig")) fail("kubeconfig", `is only for roles acp and hub (this site's role is ${role})`);
        }
        return undefined;
    }
    if (!secret("kubeconfig")) fail("kubeconfig", `is required for role ${role}: the site cluster's kubeconfig (pulumi config set --secret kubeconfig < kubeconfig.yaml)`);
    // The registry is served through a Route on port 443.
    if (url && /:\d+$/.test(url)) fail("registry.url", `must be a host name without a port for role ${role} (the registry is served by an OpenShift Route), got ${JSON.stringify(url)}`);
    // An absent section is an empty one: its defaults apply.
    const a = v.acp ?? validate(StackConfig.properties.acp, {}, problems).value;
    if (a.mirror && role === "hub") fail("acp.mirror", "is for disconnected sites (role acp): a hub is the mirror");
    const svc = a.builderVm?.service;
    if (svc?.type === "NodePort" && !svc.host) fail("acp.builderVm.service.host", "is required with service type NodePort: the address of a node composes reach");
    if (svc?.type === "LoadBalancer" && svc.host) fail("acp.builderVm.service.host", "is only for service type NodePort (a LoadBalancer has its own address)");
    if (a.registry?.mode === "deployment" && !username && !failed("registry.username"))
        fail("registry.username", "is required with acp.registry.mode deployment (the registry Deployment serves with htpasswd credentials)");
    else if (a.pipeline && !username && !failed("registry.username"))
        fail("registry.username", "is required with acp.pipeline (the in-cluster pipeline pushes with registry.username and registryPassword)");
    if (a.builderVm && !secret("sshPrivateKey"))
        fail("sshPrivateKey", "is required with acp.builderVm: composes log in to the builder VM with it (pulumi config set --secret sshPrivateKey < id_ed25519)");
    if (a.pipeline && !secret("webhookSecret"))
        fail(
            "webhookSecret",
            "is required with acp.pipeline: its trigger accepts only push webhooks signed with it (pulumi config set --secret webhookSecret, value on stdin; give the git server the same secret)",
        );
    const kubeconfig = secret("kubeconfig");
    if (failed("acp") || !kubeconfig) return undefined;
    return { acp: acpConfig(a), kubeconfig, sshPrivateKey: secret("sshPrivateKey"), webhookSecret: secret("webhookSecret") };
}

/** The acp section as components take it (defaults are filled in by the schema). */
function acpConfig(a: NonNullable<StackConfig["acp"]>): AcpConfig {
    const o = a.operators!;
    const operators = {} as AcpConfig["operators"];
    for (const name of ["virtualization", "pipelines", "gitops"] as const) {
        operators[name] = { channel: o[name]!.channel!, installPlanApproval: o[name]!.installPlanApproval ?? o.installPlanApproval! };
    }
    const vm = a.builderVm;
    let builderVm: AcpConfig["builderVm"];
    if (vm) {
        const [ns, name] = (vm.source.dataSource ?? "/").split("/");
        const source: BootSource = vm.source.registry ? { registry: vm.source.registry } : vm.source.http ? { http: vm.source.http } : { dataSource: { namespace: ns, name } };
        const svc = vm.service!;
        builderVm = {
            name: vm.name!,
            cpu: vm.cpu!,
            memory: vm.memory!,
            disk: vm.disk!,
            storageClass: vm.storageClass,
            packages: vm.packages!,
            ephemeral: vm.ephemeral!,
            sshUser: vm.sshUser!,
            source,
            sshPublicKey: vm.sshPublicKey,
            composes: vm.composes!,
            service: svc.type === "NodePort" ? { type: "NodePort", host: svc.host ?? "" } : { type: "LoadBalancer" },
        };
    }
    const p = a.pipeline;
    const r = a.registry!;
    const t = a.vmTemplates;
    return {
        namespace: a.namespace!,
        waitTimeoutSeconds: a.waitTimeoutSeconds!,
        operators,
        catalogSource: { name: o.source!, namespace: o.sourceNamespace! },
        registry: { mode: r.mode!, image: r.image!, htpasswdImage: r.htpasswdImage!, storage: r.storage!, storageClass: r.storageClass },
        mirror: a.mirror,
        builderVm,
        pipeline: p && {
            git: { url: p.git.url, revision: p.git.revision! },
            images: p.images,
            testMode: p.testMode!,
            toolImages: p.toolImages as ToolImages,
            workspaceSize: p.workspaceSize!,
            webhookHost: p.webhookHost,
        },
        vmTemplates: t && { images: t.images, storage: t.storage!, storageClass: t.storageClass, cpu: t.cpu!, memory: t.memory! },
    };
}
