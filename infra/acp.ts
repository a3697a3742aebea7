// The ACP part of a site (roles acp and hub): maps the stack configuration to
// the components in components/acp and components/registry, all through one
// explicit Kubernetes provider made from the stack's kubeconfig secret.
import type * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { AcpServices, BuilderVm, catalogDigest, kubeProvider, type PipelineImage, type ReleasedDisk, TektonPipeline, unknownImages, VmTemplates } from "../components/acp";
import type { VmTemplateOutput } from "../components/contract";
import type { RemoteBuilder } from "../components/images";
import { ImageRegistry } from "../components/registry";
import { type AcpSiteConfig, ConfigError, NAMESPACE } from "./config";

/** What the rest of the program gives the ACP part: the catalog as rendered, and released disks. */
export interface AcpInputs {
    /**
     * The image catalog as the local pipeline renders it (images with their
     * Containerfile and definitionHash) and the catalog folder's files, which the
     * in-cluster pipeline compares the git checkout against. Needed with acp.pipeline.
     */
    catalog?: { images: PipelineImage[]; files: Array<{ path: string; content: string | Buffer }> };
    /**
     * The images this site builds and boots (their booted VM disks can become VM
     * templates); undefined when the site builds nothing (a site served by a hub).
     */
    booted?: string[];
    /** For an ephemeral builder VM: what it is made for (e.g. a hash of the pending composes). */
    builderGeneration?: string;
}

/** What the ACP part gets once the images are built: released disks and the builder's work. */
export interface AcpResults {
    /** Released disk images (container disks by digest); each gets a VM template with acp.vmTemplates. */
    releasedDisks: ReleasedDisk<pulumi.Input<string>>[];
    /** What ran on the builder VM (its composes): an ephemeral builder is powered off once they are done. */
    builderWork: pulumi.CustomResource[];
}

export interface AcpDeployment {
    services: AcpServices;
    registry: ImageRegistry;
    builderVm?: BuilderVm;
    pipeline?: TektonPipeline;
    /** The images composed on the builder VM (acp.builderVm.composes), for the image pipeline. */
    remoteBuilder?: RemoteBuilder;
    /** The second half, once the images are built: the builder's release and the VM templates. */
    complete(results: AcpResults): { builderRelease?: command.remote.Command; vmTemplates: Record<string, pulumi.Output<VmTemplateOutput>> };
}

export const SERVICE_ACCOUNTS = { pipeline: "image-factory-pipeline", trigger: "image-factory-trigger" };
export const SECRET_NAMES = { pull: "image-factory-registry", cdi: "image-factory-registry-cdi", credentials: "image-factory-registry-credentials" };

/** Problems with the inputs that only show once the catalog is known, each naming its config key. */
function problemsOf(config: AcpSiteConfig, inputs: AcpInputs): string[] {
    const { acp } = config;
    const problems: string[] = [];
    const fail = (key: string, msg: string) => problems.push(`${NAMESPACE}:${key}: ${msg}`);
    const names = inputs.catalog?.images ?? [];
    const known = names.map((i) => i.name).join(", ") || "none";
    if (acp.pipeline) {
        if (!inputs.catalog) fail("acp.pipeline", `needs the image catalog (${config.images.catalog}), which was not loaded`);
        else {
            for (const u of unknownImages(acp.pipeline.images, names)) fail(`acp.pipeline.images[${u.index}]`, `unknown image "${u.name}" (the catalog has: ${known})`);
        }
    }
    const composes = acp.builderVm?.composes ?? [];
    if (composes.length && !inputs.catalog) fail("acp.builderVm.composes", "composes build the site's own images; a site served by a hub (hub.stack) mirrors them");
    else if (inputs.catalog) {
        const unknown = unknownImages(composes, names);
        for (const u of unknown) fail(`acp.builderVm.composes[${u.index}]`, `unknown image "${u.name}" (the catalog has: ${known})`);
        composes.forEach((name, i) => {
            const image = names.find((n) => n.name === name);
            if (image && !image.parent)
                fail(`acp.builderVm.composes[${i}]`, `"${name}" is a root image: a compose builds on a catalog parent, and a root is built from packages on the machine that runs up`);
        });
    }
    if (acp.vmTemplates && !inputs.booted) {
        fail("acp.vmTemplates", "a site served by a hub (hub.stack) mirrors images, not their VM disks; VM templates are made from the images a site builds and boots itself");
    }
    if (acp.vmTemplates?.images && inputs.catalog) {
        const unknown = unknownImages(acp.vmTemplates.images, names);
        for (const u of unknown) fail(`acp.vmTemplates.images[${u.index}]`, `unknown image "${u.name}" (the catalog has: ${known})`);
        acp.vmTemplates.images.forEach((name, i) => {
            if (inputs.booted && !inputs.booted.includes(name) && !unknown.some((u) => u.index === i)) {
                const why = config.boot.enabled ? "it has no kernel in its chain (catalog `boot.kernel`) or `boot.test: false`" : "image-factory:boot.enabled is false";
                fail(`acp.vmTemplates.images[${i}]`, `"${name}" is not booted on this site, and a VM template is made only from a booted VM disk: ${why}`);
            }
        });
    }
    return problems;
}

/** Reports every problem deployAcp would find, before the site registers any resource. */
export function checkAcp(config: AcpSiteConfig, inputs: AcpInputs): void {
    const problems = problemsOf(config, inputs);
    if (problems.length) throw new ConfigError(problems);
}

/** The booted images that get a VM template (acp.vmTemplates.images, or every booted one): their disks are pushed as container disks. */
export function vmTemplateImages(config: AcpSiteConfig, booted: string[]): string[] {
    const t = config.acp.vmTemplates;
    return t ? (t.images ?? booted).filter((n) => booted.includes(n)) : [];
}

/**
 * Declares the site's ACP services, registry, builder VM, in-cluster pipeline and
 * VM templates. Every problem is reported before any resource is registered.
 */
export function deployAcp(config: AcpSiteConfig, inputs: AcpInputs = {}, opts: pulumi.ComponentResourceOptions = {}): AcpDeployment {
    const { acp, kubeconfig, site } = config;
    checkAcp(config, inputs);

    const parent = { ...opts };
    const provider = kubeProvider(`${site.name}-acp`, kubeconfig, { parent: opts.parent });
    const services = new AcpServices(
        `${site.name}-services`,
        {
            site: site.name,
            namespace: acp.namespace,
            operators: acp.operators,
            catalogSource: acp.catalogSource,
            serviceAccounts: SERVICE_ACCOUNTS,
            waitSeconds: acp.waitTimeoutSeconds,
            provider,
        },
        parent,
    );

    const registry = new ImageRegistry(
        `${site.name}-registry`,
        {
            site: site.name,
            mode: acp.registry.mode,
            host: config.registry.url,
            namespace: acp.namespace,
            repositoryNamespace: config.registry.namespace,
            deployment: { image: acp.registry.image, htpasswdImage: acp.registry.htpasswdImage, storage: acp.registry.storage, storageClass: acp.registry.storageClass },
            pushers: [{ namespace: acp.namespace, serviceAccount: SERVICE_ACCOUNTS.pipeline }],
            secretNames: SECRET_NAMES,
            mirror: acp.mirror,
            waitSeconds: acp.waitTimeoutSeconds,
            credentials: config.registry.username && config.registry.password ? { username: config.registry.username, password: config.registry.password } : undefined,
            provider,
            dependsOn: [services.workloadNamespace],
        },
        parent,
    );

    let builderVm: BuilderVm | undefined;
    if (acp.builderVm) {
        const b = acp.builderVm;
        builderVm = new BuilderVm(
            `${site.name}-builder`,
            {
                site: site.name,
                name: b.name,
                namespace: acp.namespace,
                source: b.source,
                cpu: b.cpu,
                memory: b.memory,
                disk: b.disk,
                storageClass: b.storageClass,
                packages: b.packages,
                sshUser: b.sshUser,
                sshPublicKey: b.sshPublicKey,
                ephemeral: b.ephemeral,
                generation: inputs.builderGeneration,
                waitSeconds: acp.waitTimeoutSeconds,
                serviceType: b.service.type,
                nodeHost: b.service.type === "NodePort" ? b.service.host : undefined,
                sshPrivateKey: config.sshPrivateKey!,
                provider,
                dependsOn: [services.workloadNamespace, services.hyperConverged],
            },
            parent,
        );
    }

    // The images composed on the builder: built there, on their tested parent, and pushed to the site registry.
    const composes = acp.builderVm?.composes ?? [];
    const remoteBuilder: RemoteBuilder | undefined =
        builderVm && composes.length
            ? {
                  images: composes,
                  compose: (image, job) => {
                      const c = builderVm!.compose(image, job);
                      return { ref: c.ref, step: c.command };
                  },
              }
            : undefined;

    let pipeline: TektonPipeline | undefined;
    if (acp.pipeline && inputs.catalog) {
        const p = acp.pipeline;
        pipeline = new TektonPipeline(
            `${site.name}-pipeline`,
            {
                site: site.name,
                namespace: acp.namespace,
                images: inputs.catalog.images,
                select: p.images ?? config.images.select,
                catalog: { path: config.images.catalog, digest: catalogDigest(inputs.catalog.files) },
                git: p.git,
                registry: {
                    host: registry.clusterHost,
                    repositoryNamespace: config.registry.namespace,
                    pullSecret: SECRET_NAMES.pull,
                    // Both in-cluster registries serve certificates the service CA signs.
                    certDir: "/var/run/secrets/kubernetes.io/serviceaccount",
                },
                testMode: p.testMode,
                serviceAccounts: SERVICE_ACCOUNTS,
                toolImages: p.toolImages,
                workspaceSize: p.workspaceSize,
                webhookHost: p.webhookHost,
                webhookSecret: config.webhookSecret!,
                provider,
                dependsOn: [services.subscriptions.pipelines, ...services.rbac, ...registry.secrets, ...(p.testMode === "vm" ? [services.hyperConverged] : [])],
            },
            parent,
        );
    }

    const complete = (results: AcpResults) => {
        // An ephemeral builder runs once: power it off when its work is done, so it
        // does not hold the cluster's CPU and memory until the next `up`.
        const builderRelease = builderVm && acp.builderVm?.ephemeral ? builderVm.release(results.builderWork) : undefined;
        let vmTemplates: Record<string, pulumi.Output<VmTemplateOutput>> = {};
        if (acp.vmTemplates) {
            const t = acp.vmTemplates;
            const disks = results.releasedDisks.filter((d) => !t.images || t.images.includes(d.name));
            vmTemplates = new VmTemplates(
                `${site.name}-vm-templates`,
                {
                    site: site.name,
                    namespace: acp.namespace,
                    disks,
                    storage: t.storage,
                    storageClass: t.storageClass,
                    registrySecret: registry.cdiSecretName,
                    cpu: t.cpu,
                    memory: t.memory,
                    waitSeconds: acp.waitTimeoutSeconds,
                    provider,
                    dependsOn: [services.workloadNamespace, services.hyperConverged, ...registry.secrets],
                },
                parent,
            ).templates;
        }
        return { builderRelease, vmTemplates };
    };
    return { services, registry, builderVm, pipeline, remoteBuilder, complete };
}
