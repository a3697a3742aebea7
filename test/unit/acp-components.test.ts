// deployAcp and the ACP components under Pulumi mocks (any invoke throws): the
// resource graph per role (what exists, parents, dependencies, provider), key
// fields, secrets staying secret, and every Kubernetes object sent validating
// against its upstream schema.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { BuilderVm } from "../../components/acp/builder-vm";
import { kubeProvider } from "../../components/kube";
import { COMPOSE_SCRIPT } from "../../components/acp/render/compose";
import { deployAcp } from "../../infra/acp";
import { onAcp, parseSiteConfig, type RawConfig } from "../../infra/config";
import { CATALOG, CATALOG_FILES, DISKS, exampleStack, SECRETS } from "../support/acp-fixtures";
import { validateObject } from "../support/kube-schemas";
import { capture, type Registered, resolve, unwrapSecrets, withoutSecrets } from "../support/pulumi-mocks";

const inputs = { catalog: { images: CATALOG, files: CATALOG_FILES }, booted: CATALOG.map((i) => i.name), builderGeneration: "sha256:0123456789abcdef" };
const isKube = (r: Registered) => r.type.startsWith("kubernetes:") && r.type !== "pulumi:providers:kubernetes";
const secretTexts = Object.values(SECRETS);

/** The example stack's config, which must be for a cluster role (acp or hub). */
function acpSite(raw: RawConfig) {
    const config = parseSiteConfig(raw);
    if (!onAcp(config)) throw new Error(`role ${config.site.role} has no ACP`);
    return config;
}

async function deploy(stack: string) {
    const config = acpSite(exampleStack(stack));
    // The fixtures' catalog has its own names (edge-*); the composes have their own tests below.
    if (config.acp.builderVm) config.acp.builderVm.composes = [];
    return capture((opts) => {
        const acp = deployAcp(config, inputs, opts);
        return { ...acp, ...acp.complete({ releasedDisks: DISKS, builderWork: [] }) };
    }, stack);
}

describe("hub (role hub): graph", async () => {
    const { result, resources, names } = await deploy("hub");
    const r = (name: string) => {
        const x = resources.get(name);
        if (!x) throw new Error(`no resource ${name}; registered: ${[...resources.keys()].join(", ")}`);
        return x;
    };

    it("declares the services, the registry Deployment, the builder VM, the pipeline and the VM templates", () => {
        expect(names).toEqual(
            expect.arrayContaining([
                "pulumi:providers:kubernetes:hub-acp",
                "image-factory:acp:AcpServices:hub-services",
                "kubernetes:core/v1:Namespace:namespace-image-factory",
                "kubernetes:core/v1:Namespace:namespace-openshift-cnv",
                "kubernetes:operators.coreos.com/v1:OperatorGroup:operatorgroup-openshift-cnv-kubevirt-hyperconverged",
                "kubernetes:operators.coreos.com/v1alpha1:Subscription:subscription-openshift-cnv-kubevirt-hyperconverged",
                "kubernetes:operators.coreos.com/v1alpha1:Subscription:subscription-openshift-operators-openshift-pipelines-operator-rh",
                "kubernetes:operators.coreos.com/v1alpha1:Subscription:subscription-openshift-gitops-operator-openshift-gitops-operator",
                "kubernetes:hco.kubevirt.io/v1beta1:HyperConverged:hyperconverged-openshift-cnv-kubevirt-hyperconverged",
                "image-factory:registry:ImageRegistry:hub-registry",
                "kubernetes:apps/v1:Deployment:deployment-image-factory-registry",
                "kubernetes:core/v1:PersistentVolumeClaim:persistentvolumeclaim-image-factory-registry",
                "kubernetes:route.openshift.io/v1:Route:route-image-factory-registry-hub",
                "kubernetes:core/v1:Secret:secret-image-factory-image-factory-registry",
                "image-factory:acp:BuilderVm:hub-builder",
                "kubernetes:kubevirt.io/v1:VirtualMachine:virtualmachine-image-factory-image-factory-builder-0123456789",
                "command:remote:Command:hub-builder-ready",
                "image-factory:acp:TektonPipeline:hub-pipeline",
                "kubernetes:tekton.dev/v1:Pipeline:pipeline-image-factory-image-factory-hub",
                "kubernetes:triggers.tekton.dev/v1beta1:EventListener:eventlistener-image-factory-image-factory-hub",
                "image-factory:acp:VmTemplates:hub-vm-templates",
                "kubernetes:template.openshift.io/v1:Template:template-image-factory-edge-httpd",
            ]),
        );
        // A hub is the mirror: it has no ImageDigestMirrorSet; its registry is a Deployment, not the internal one.
        expect(names.some((n) => n.includes("ImageDigestMirrorSet"))).toBe(false);
        expect(names.some((n) => n.includes("openshift-image-registry"))).toBe(false);
        // fetch, build, test: no task moves a release tag (the stack's ImageRelease owns them).
        expect(names.filter((n) => n.startsWith("kubernetes:tekton.dev/v1:Task:"))).toHaveLength(3);
        expect(names.filter((n) => /^kubernetes:tekton.dev\/v1:PipelineRun:pipelinerun-image-factory-image-factory-hub-[a-f0-9]{12}$/.test(n))).toHaveLength(1);
        expect(Object.keys(result.vmTemplates)).toEqual(["edge-httpd", "edge-db"]);
    });

    it("every Kubernetes object goes through the site's explicit provider", () => {
        const kube = [...resources.values()].filter(isKube);
        expect(kube.length).toBeGreaterThan(30);
        for (const k of kube) expect(k.provider, k.name).toMatch(/pulumi:providers:kubernetes::hub-acp::/);
    });

    it("parents: each object belongs to its component, the components to the caller", () => {
        expect(r("namespace-image-factory").parent).toBe("hub-services");
        expect(r("deployment-image-factory-registry").parent).toBe("hub-registry");
        expect(r("virtualmachine-image-factory-image-factory-builder-0123456789").parent).toBe("hub-builder");
        expect(r("hub-builder-ready").parent).toBe("hub-builder");
        expect(r("pipeline-image-factory-image-factory-hub").parent).toBe("hub-pipeline");
        expect(r("template-image-factory-edge-httpd").parent).toBe("hub-vm-templates");
        for (const c of ["hub-services", "hub-registry", "hub-builder", "hub-pipeline", "hub-vm-templates", "hub-acp"]) expect(r(c).parent).toBeUndefined();
    });

    it("dependencies: operands wait for their operators, workloads for their namespace and secrets", () => {
        expect(r("hyperconverged-openshift-cnv-kubevirt-hyperconverged").dependsOn).toEqual(["subscription-openshift-cnv-kubevirt-hyperconverged"]);
        expect(r("subscription-openshift-cnv-kubevirt-hyperconverged").dependsOn).toEqual(["namespace-openshift-cnv", "operatorgroup-openshift-cnv-kubevirt-hyperconverged"]);
        expect(r("virtualmachine-image-factory-image-factory-builder-0123456789").dependsOn).toEqual(["namespace-image-factory", "hyperconverged-openshift-cnv-kubevirt-hyperconverged"]);
        expect(r("deployment-image-factory-registry").dependsOn).toEqual(
            expect.arrayContaining(["namespace-image-factory", "secret-image-factory-image-factory-registry-credentials", "service-image-factory-registry", "persistentvolumeclaim-image-factory-registry"]),
        );
        const pipeline = r("pipeline-image-factory-image-factory-hub").dependsOn;
        expect(pipeline).toEqual(expect.arrayContaining(["subscription-openshift-operators-openshift-pipelines-operator-rh", "task-image-factory-image-factory-build", "secret-image-factory-image-factory-registry"]));
        expect(r("datasource-image-factory-edge-httpd").dependsOn).toContain("datavolume-image-factory-edge-httpd-1-2-0");
        expect(r("template-image-factory-edge-httpd").dependsOn).toContain("datasource-image-factory-edge-httpd");
        expect(r("hub-builder-ready").dependsOn).toEqual(["virtualmachine-image-factory-image-factory-builder-0123456789", "service-image-factory-image-factory-builder-ssh"]);
        // The hub's builder is ephemeral: it is powered off once it is ready and its work is done.
        expect(r("hub-builder-release").dependsOn).toEqual(["hub-builder-ready"]);
        expect(result.builderRelease).toBeDefined();
    });

    it("key fields come from the stack's configuration", () => {
        expect(r("subscription-openshift-operators-openshift-pipelines-operator-rh").inputs.spec).toMatchObject({ channel: "pipelines-1.18", installPlanApproval: "Manual" });
        expect(r("subscription-openshift-gitops-operator-openshift-gitops-operator").inputs.spec).toMatchObject({ channel: "gitops-1.16" });
        expect(r("route-image-factory-registry-hub").inputs.spec.host).toBe("registry.hub.example.com");
        expect(r("persistentvolumeclaim-image-factory-registry").inputs.spec).toMatchObject({ storageClassName: "ocs-storagecluster-ceph-rbd", resources: { requests: { storage: "500Gi" } } });
        const vm = r("virtualmachine-image-factory-image-factory-builder-0123456789").inputs.spec;
        expect(vm.runStrategy).toBe("Once");
        expect(vm.dataVolumeTemplates[0].spec.sourceRef).toEqual({ kind: "DataSource", name: "rhel9", namespace: "openshift-virtualization-os-images" });
        expect(vm.template.spec.domain).toMatchObject({ cpu: { cores: 8 }, memory: { guest: "16Gi" } });
        const tasks = r("pipeline-image-factory-image-factory-hub").inputs.spec.tasks;
        expect(tasks.find((t: any) => t.name === "test-edge-httpd").taskRef.name).toBe("image-factory-test-vm");
        expect(tasks.find((t: any) => t.name === "build-edge-base").params).toContainEqual({ name: "image", value: "registry.image-factory.svc:5000/hub/edge-base" });
        // The hub's channel (stable) is the stack's release's to move, never the pipeline's.
        expect(tasks.map((t: any) => t.name)).toEqual(["fetch", "build-edge-base", "test-edge-base", "build-edge-httpd", "test-edge-httpd", "build-edge-db", "test-edge-db"]);
        expect(JSON.stringify(tasks)).not.toMatch(/"tags"|stable/);
    });

    it("every Kubernetes object sent validates against its upstream schema", () => {
        const problems = [...resources.values()].filter(isKube).flatMap((k) => validateObject(unwrapSecrets(k.inputs)));
        expect(problems).toEqual([]);
    });

    it("secrets stay secret: the kubeconfig, the registry password, the SSH key, the webhook secret", async () => {
        expect(r("hub-acp").inputs.kubeconfig).toMatchObject({ value: SECRETS.kubeconfig });
        for (const s of ["secret-image-factory-image-factory-registry", "secret-image-factory-image-factory-registry-cdi", "secret-image-factory-image-factory-registry-credentials", "secret-image-factory-image-factory-hub-webhook"]) {
            expect(withoutSecrets(r(s).inputs).stringData, s).toBe("[secret]");
        }
        expect(withoutSecrets(r("hub-builder-ready").inputs).connection).toBe("[secret]");
        // Nowhere in plain inputs.
        const plain = JSON.stringify([...resources.values()].map((x) => withoutSecrets(x.inputs)));
        for (const text of secretTexts) expect(plain).not.toContain(text);
        expect(plain).not.toContain(Buffer.from(`image-factory:${SECRETS.registryPassword}`).toString("base64"));
        const conn = await resolve(result.builderVm!.connection);
        expect(conn.secret).toBe(true);
        expect(conn.value).toMatchObject({ host: "192.0.2.10", port: 22, user: "builder" });
    });
});

describe("hub: a compose on the builder VM", async () => {
    const config = acpSite(exampleStack("hub"));
    config.acp.builderVm!.composes = ["edge-httpd"];
    const parentRef = `registry.hub.example.com/hub/edge-base@sha256:${"2".repeat(64)}`;
    const { result, resources } = await capture((opts) => {
        const acp = deployAcp(config, inputs, opts);
        const c = acp.remoteBuilder!.compose("edge-httpd", {
            registry: "registry.hub.example.com",
            repository: "hub/edge-httpd",
            definitionHash: `sha256:${"1".repeat(64)}`,
            parentRef: pulumi.output(parentRef),
            labels: pulumi.output<Record<string, string>>({ "io.image-factory.parent": parentRef }),
            context: { Containerfile: { text: "ARG PARENT_IMAGE\nFROM ${PARENT_IMAGE}\n" } },
            auth: pulumi.secret({ username: "image-factory", password: SECRETS.registryPassword }),
        });
        return { acp, compose: c, ...acp.complete({ releasedDisks: DISKS, builderWork: [c.step] }) };
    }, "hub");

    it("runs over SSH once the builder is ready; the ephemeral builder is released after it", () => {
        expect(result.acp.remoteBuilder!.images).toEqual(["edge-httpd"]);
        const compose = resources.get("hub-builder-compose-edge-httpd")!;
        expect(compose.parent).toBe("hub-builder");
        expect(compose.dependsOn).toEqual(["hub-builder-ready"]);
        expect(resources.get("hub-builder-release")!.dependsOn).toEqual(["hub-builder-ready", "hub-builder-compose-edge-httpd"]);
    });

    it("the connection and stdin (with the push credentials) are secret; the command is the one constant script", async () => {
        const compose = resources.get("hub-builder-compose-edge-httpd")!;
        expect(withoutSecrets(compose.inputs)).toMatchObject({ connection: "[secret]", stdin: "[secret]", create: COMPOSE_SCRIPT });
        const stdin = unwrapSecrets(compose.inputs.stdin) as string;
        expect(stdin).not.toContain(SECRETS.registryPassword);
        expect(stdin.split("\n")[0]).toBe(`target =${Buffer.from(`registry.hub.example.com/hub/edge-httpd:build-${"1".repeat(64)}`).toString("base64")}`);
        expect(JSON.stringify(withoutSecrets(compose.inputs))).not.toContain(Buffer.from(`image-factory:${SECRETS.registryPassword}`).toString("base64"));
    });
});

describe("site-a (role acp, disconnected): graph", async () => {
    const { result, resources, names } = await deploy("site-a");

    it("declares the services, the internal registry's Route, the hub mirror and the pipeline; no builder VM, no templates", () => {
        expect(names).toEqual(
            expect.arrayContaining([
                "kubernetes:route.openshift.io/v1:Route:route-openshift-image-registry-registry-site-a",
                "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding:rolebinding-site-a-image-builder-image-factory-image-factory-pipeline",
                "kubernetes:config.openshift.io/v1:ImageDigestMirrorSet:imagedigestmirrorset-image-factory-site-a-hub-mirror",
                "kubernetes:tekton.dev/v1:Pipeline:pipeline-image-factory-image-factory-site-a",
            ]),
        );
        expect(names.some((n) => /:(Deployment|VirtualMachine|Template|DataVolume):/.test(n))).toBe(false);
        expect(result.builderVm).toBeUndefined();
        expect(result.vmTemplates).toEqual({});
        const idms = resources.get("imagedigestmirrorset-image-factory-site-a-hub-mirror")!;
        expect(idms.inputs.spec.imageDigestMirrors.map((m: any) => m.mirrors[0])).toEqual(["registry.hub.example.com/quay.io", "registry.hub.example.com/registry.redhat.io", "registry.hub.example.com/docker.io"]);
        const pipeline = resources.get("pipeline-image-factory-image-factory-site-a")!.inputs.spec;
        expect(pipeline.tasks.find((t: any) => t.name === "test-edge-httpd").taskRef.name).toBe("image-factory-test-pod");
        expect(pipeline.params).toContainEqual({ name: "revision", type: "string", default: "site-a" });
        expect(resources.get("subscription-openshift-cnv-kubevirt-hyperconverged")!.inputs.spec.source).toBe("redhat-operators-mirror");
    });

    it("pushes to the internal registry's service and every object validates", () => {
        const build = resources.get("pipeline-image-factory-image-factory-site-a")!.inputs.spec.tasks.find((t: any) => t.name === "build-edge-base");
        expect(build.params).toContainEqual({ name: "image", value: "image-registry.openshift-image-registry.svc:5000/site-a/edge-base" });
        const problems = [...resources.values()].filter(isKube).flatMap((k) => validateObject(unwrapSecrets(k.inputs)));
        expect(problems).toEqual([]);
    });
});

/** Stands in for a compose that runs on the builder. */
class Compose extends pulumi.CustomResource {
    constructor(name: string, opts: pulumi.CustomResourceOptions) {
        super("test:index:Compose", name, {}, opts);
    }
}

describe("ephemeral builder", () => {
    it("powers off after the composes it is given, and refuses when not ephemeral", async () => {
        const { resources } = await capture((opts) => {
            const provider = kubeProvider("k", pulumi.secret("kubeconfig"), opts);
            const builder = new BuilderVm(
                "b",
                {
                    site: "hub", name: "builder", namespace: "ns", source: { http: "https://example.com/rhel.qcow2" }, cpu: 2, memory: "4Gi", disk: "40Gi",
                    packages: ["podman"], sshUser: "builder", sshPublicKey: "ssh-ed25519 AAAA x", ephemeral: true, generation: "sha256:feedfacefeedface",
                    serviceType: "NodePort", nodeHost: "node1.example.com", sshPrivateKey: pulumi.secret("key"), provider,
                },
                opts,
            );
            const compose = new Compose("compose", opts);
            builder.release([compose]);
            const steady = new BuilderVm("s", { ...({} as any), site: "hub", name: "steady", namespace: "ns", source: { registry: "docker://x/y" }, cpu: 1, memory: "1Gi", disk: "1Gi", packages: [], sshUser: "u", sshPublicKey: "k", ephemeral: false, serviceType: "LoadBalancer", sshPrivateKey: "k", provider }, opts);
            expect(() => steady.release([compose])).toThrow("BuilderVm s is not ephemeral");
            return builder;
        });
        const release = resources.get("b-release")!;
        expect(release.inputs.create).toBe("sudo systemd-run --on-active=5 systemctl poweroff");
        expect(release.dependsOn).toEqual(["b-ready", "compose"]);
        // The connection carries the private key, so all of it is secret.
        expect(withoutSecrets(release.inputs).connection).toBe("[secret]");
        expect(unwrapSecrets(release.inputs.connection)).toMatchObject({ host: "node1.example.com", port: 30022, privateKey: "key" });
        expect(resources.get("virtualmachine-ns-builder-feedfacefe")!.inputs.spec.runStrategy).toBe("Once");
    });
});

describe("errors before any resource", () => {
    it("an unknown image in the pipeline names its key, and nothing is registered", async () => {
        const raw = exampleStack("site-a");
        (raw.values.acp as any).pipeline.images = ["edge-db", "edge-hmi"];
        const config = acpSite(raw);
        const { resources, result } = await capture((opts) => {
            try {
                deployAcp(config, inputs, opts);
            } catch (e) {
                return (e as Error).message;
            }
            return "no error";
        });
        expect(result).toContain('image-factory:acp.pipeline.images[1]: unknown image "edge-hmi" (the catalog has: edge-httpd, edge-base, edge-db)');
        expect([...resources.keys()]).toEqual([]);
    });

    it("a pipeline without a loaded catalog says so, naming the key", async () => {
        const config = acpSite(exampleStack("hub"));
        const { resources, result } = await capture((opts) => {
            try {
                deployAcp(config, {}, opts);
            } catch (e) {
                return (e as Error).message;
            }
            return "no error";
        });
        expect(result).toContain("image-factory:acp.pipeline: needs the image catalog (images), which was not loaded");
        expect([...resources.keys()]).toEqual([]);
    });
});
