// The ACP renderers: what they produce, and that every object they render
// validates against its upstream schema (test/support/kube-schemas says which
// package each schema comes from).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../components/kube";
import { type BuilderVmInput, renderBuilderVm, renderCloudInit } from "../../components/acp/render/builder-vm";
import {
    buildTag,
    CATALOG_DIGEST_SH,
    catalogDigest,
    pipelineOrder,
    renderTektonPipeline,
    type TektonPipelineInput,
    UnknownImageError,
} from "../../components/acp/render/pipeline";
import { renderAcpServices, type AcpServicesInput } from "../../components/acp/render/services";
import { renderVmTemplates } from "../../components/acp/render/vm-templates";
import { type RegistryInput, renderRegistry, renderRegistrySecrets } from "../../components/registry/render";
import { CATALOG, CATALOG_FILES, DISKS } from "../support/acp-fixtures";
import { SCHEMA_SOURCES, validateObject } from "../support/kube-schemas";

const servicesInput: AcpServicesInput = {
    site: "hub",
    namespace: "image-factory",
    operators: {
        virtualization: { channel: "stable", installPlanApproval: "Automatic" },
        pipelines: { channel: "pipelines-1.18", installPlanApproval: "Manual" },
        gitops: { channel: "latest", installPlanApproval: "Automatic" },
    },
    catalogSource: { name: "redhat-operators", namespace: "openshift-marketplace" },
    serviceAccounts: { pipeline: "image-factory-pipeline", trigger: "image-factory-trigger" },
};
const registryInput = (mode: "internal" | "deployment"): RegistryInput => ({
    site: "hub",
    mode,
    host: "registry.hub.example.com",
    namespace: "image-factory",
    repositoryNamespace: "hub",
    deployment: { image: "docker.io/library/registry:2.8.3", htpasswdImage: "docker.io/library/httpd:2.4-alpine", storage: "500Gi", storageClass: "fast" },
    pushers: [{ namespace: "image-factory", serviceAccount: "image-factory-pipeline" }],
    secretNames: { pull: "image-factory-registry", cdi: "image-factory-registry-cdi", credentials: "registry-credentials" },
    mirror: { registry: "registry.hub.example.com", sources: ["quay.io", "registry.redhat.io/rhel9"] },
});
const builderInput = (over: Partial<BuilderVmInput> = {}): BuilderVmInput => ({
    site: "hub",
    name: "image-factory-builder",
    namespace: "image-factory",
    source: { registry: "docker://quay.io/containerdisks/centos-stream:9" },
    cpu: 4,
    memory: "8Gi",
    disk: "60Gi",
    packages: ["podman", "buildah", "osbuild-composer"],
    sshUser: "builder",
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample builder@hub",
    ephemeral: false,
    serviceType: "LoadBalancer",
    ...over,
});
const pipelineInput = (over: Partial<TektonPipelineInput> = {}): TektonPipelineInput => ({
    site: "hub",
    namespace: "image-factory",
    images: CATALOG,
    catalog: { path: "images", digest: catalogDigest(CATALOG_FILES) },
    git: { url: "https://git.example.com/platform/image-factory.git", revision: "main" },
    registry: { host: "registry.image-factory.svc:5000", repositoryNamespace: "hub", pullSecret: "image-factory-registry", certDir: "/var/run/secrets/kubernetes.io/serviceaccount" },
    testMode: "vm",
    serviceAccounts: { pipeline: "image-factory-pipeline", trigger: "image-factory-trigger" },
    toolImages: {
        git: "docker.io/alpine/git:2.47.2",
        buildah: "quay.io/buildah/stable:v1.38",
        skopeo: "quay.io/skopeo/stable:v1.17",
        oc: "quay.io/openshift/origin-cli:4.17",
        bootcImageBuilder: "quay.io/centos-bootc/bootc-image-builder:latest",
    },
    workspaceSize: "20Gi",
    ...over,
});

/** Every object each renderer can produce, in all its variants. */
function everything(): KubeObject[] {
    const services = renderAcpServices(servicesInput);
    const objs: KubeObject[] = [
        ...services.namespaces,
        ...Object.values(services.operators).flatMap((o) => [o.operatorGroup, o.subscription].filter((x): x is KubeObject => !!x)),
        services.hyperConverged,
        ...services.rbac,
    ];
    for (const mode of ["internal", "deployment"] as const) {
        const r = renderRegistry(registryInput(mode));
        objs.push(...r.objects, r.mirrorSet!, ...renderRegistrySecrets(registryInput(mode), r.clusterHost, "image-factory", "pw"));
    }
    for (const over of [{}, { ephemeral: true, serviceType: "NodePort" as const, source: { http: "https://example.com/rhel9.qcow2" } }, { source: { dataSource: { name: "rhel9", namespace: "openshift-virtualization-os-images" } } }]) {
        const b = renderBuilderVm(builderInput(over));
        objs.push(b.vm, b.service);
    }
    for (const testMode of ["vm", "pod"] as const) {
        const t = renderTektonPipeline(pipelineInput({ testMode }));
        objs.push(...t.tasks, t.pipeline, t.trigger.binding, t.trigger.template, t.trigger.listener);
    }
    const withHook = renderTektonPipeline(pipelineInput({ webhookHost: "hooks.hub.example.com" }));
    objs.push(withHook.run, withHook.trigger.route!);
    for (const t of renderVmTemplates({ site: "hub", namespace: "image-factory", disks: DISKS, storage: "30Gi", registrySecret: "image-factory-registry-cdi", cpu: 2, memory: "4Gi" })) {
        objs.push(t.dataVolume, t.dataSource, t.template);
    }
    return objs;
}

describe("rendered objects against upstream schemas", () => {
    const objs = everything();

    it("every rendered object validates against its kind's schema", () => {
        const problems = objs.flatMap(validateObject);
        expect(problems).toEqual([]);
    });

    it("covers every kind the renderers produce, each with a named schema source", () => {
        const kinds = [...new Set(objs.map((o) => `${o.apiVersion}/${o.kind}`))].sort();
        for (const k of kinds) expect(SCHEMA_SOURCES[k], k).toBeDefined();
        expect(kinds).toEqual(
            expect.arrayContaining([
                "v1/Namespace", "apps/v1/Deployment", "route.openshift.io/v1/Route", "kubevirt.io/v1/VirtualMachine", "cdi.kubevirt.io/v1beta1/DataVolume",
                "cdi.kubevirt.io/v1beta1/DataSource", "template.openshift.io/v1/Template", "tekton.dev/v1/Task", "tekton.dev/v1/Pipeline",
                "triggers.tekton.dev/v1beta1/EventListener", "triggers.tekton.dev/v1beta1/TriggerTemplate", "operators.coreos.com/v1alpha1/Subscription",
                "operators.coreos.com/v1/OperatorGroup", "hco.kubevirt.io/v1beta1/HyperConverged", "config.openshift.io/v1/ImageDigestMirrorSet",
            ]),
        );
    });

    // The validators must be able to fail, or the test above proves nothing.
    it.each([
        ["a misspelt VirtualMachine field (KubeVirt schema)", (o: any) => o.kind === "VirtualMachine", (o: any) => (o.spec.runStrategyy = "Always")],
        ["a wrong type in a Deployment (Kubernetes schema)", (o: any) => o.kind === "Deployment", (o: any) => (o.spec.replicas = "one")],
        ["a Route without its target (OpenShift schema)", (o: any) => o.kind === "Route", (o: any) => delete o.spec.to],
        ["an unknown DataVolume source (CDI schema)", (o: any) => o.kind === "DataVolume", (o: any) => (o.spec.source = { ftp: { url: "x" } })],
        ["a bad installPlanApproval (OLM schema)", (o: any) => o.kind === "Subscription", (o: any) => (o.spec.installPlanApproval = "Sometimes")],
        ["a string upgradeStrategy (OLM schema)", (o: any) => o.kind === "OperatorGroup", (o: any) => (o.spec.upgradeStrategy = "Default")],
        ["a step without image (Tekton schema)", (o: any) => o.kind === "Task", (o: any) => delete o.spec.steps[0].image],
        ["a VM in a Template with a bad field (embedded object)", (o: any) => o.kind === "Template", (o: any) => (o.objects[0].spec.template.spec.domain.cpu.sockets = "two")],
        ["a PipelineRun in a TriggerTemplate without pipelineRef", (o: any) => o.kind === "TriggerTemplate", (o: any) => delete o.spec.resourcetemplates[0].spec.pipelineRef],
        ["a mirror policy that does not exist", (o: any) => o.kind === "ImageDigestMirrorSet", (o: any) => (o.spec.imageDigestMirrors[0].mirrorSourcePolicy = "Sometimes")],
    ])("rejects %s", (_what, pick, spoil) => {
        const obj = structuredClone(objs.find(pick)!);
        expect(validateObject(obj)).toEqual([]);
        spoil(obj);
        expect(validateObject(obj).length).toBeGreaterThan(0);
    });
});

describe("AcpServices objects", () => {
    const s = renderAcpServices(servicesInput);
    it("subscribes each operator on its configured channel from the catalog source", () => {
        expect(s.operators.virtualization.subscription).toMatchObject({
            metadata: { name: "kubevirt-hyperconverged", namespace: "openshift-cnv" },
            spec: { name: "kubevirt-hyperconverged", channel: "stable", source: "redhat-operators", sourceNamespace: "openshift-marketplace", installPlanApproval: "Automatic" },
        });
        expect(s.operators.pipelines.subscription).toMatchObject({ metadata: { namespace: "openshift-operators" }, spec: { channel: "pipelines-1.18", installPlanApproval: "Manual" } });
        expect(s.operators.gitops.subscription.spec).toMatchObject({ name: "openshift-gitops-operator", channel: "latest" });
        // `up` waits for the operator (and its CRDs) before the resources of its kinds.
        expect(s.operators.gitops.subscription.metadata.annotations).toEqual({ "pulumi.com/waitFor": "jsonpath={.status.installedCSV}", "pulumi.com/timeoutSeconds": "1800" });
        expect(s.hyperConverged.metadata.annotations!["pulumi.com/waitFor"]).toBe("condition=Available");
    });
    it("owns OperatorGroups only where it owns the namespace", () => {
        expect(s.operators.virtualization.operatorGroup?.spec).toEqual({ targetNamespaces: ["openshift-cnv"] });
        expect(s.operators.gitops.operatorGroup?.spec).toEqual({});
        expect(s.operators.pipelines.operatorGroup).toBeUndefined(); // openshift-operators has its global group
        expect(s.namespaces.map((n) => n.metadata.name)).toEqual(["image-factory", "openshift-cnv", "openshift-gitops-operator"]);
    });
    it("binds the pipeline and trigger service accounts", () => {
        const bindings = s.rbac.filter((o) => o.kind.endsWith("Binding"));
        expect(bindings.map((b) => (b.roleRef as any).name)).toEqual([
            "image-factory-pipeline",
            "system:openshift:scc:privileged",
            "tekton-triggers-eventlistener-roles",
            "tekton-triggers-eventlistener-clusterroles",
        ]);
    });
});

describe("ImageRegistry objects", () => {
    it("internal mode: a Route to the internal registry and push rights in the repository namespace", () => {
        const r = renderRegistry(registryInput("internal"));
        expect(r.clusterHost).toBe("image-registry.openshift-image-registry.svc:5000");
        expect(r.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toEqual([
            "Namespace//hub",
            "Route/openshift-image-registry/registry-hub",
            "RoleBinding/hub/image-builder-image-factory-image-factory-pipeline",
        ]);
        expect(r.objects[1].spec).toMatchObject({ host: "registry.hub.example.com", to: { name: "image-registry" }, tls: { termination: "reencrypt" } });
    });
    it("deployment mode: PVC, Service with a serving certificate, Deployment with htpasswd, Route", () => {
        const r = renderRegistry(registryInput("deployment"));
        expect(r.clusterHost).toBe("registry.image-factory.svc:5000");
        expect(r.objects.map((o) => o.kind)).toEqual(["PersistentVolumeClaim", "Service", "Deployment", "Route"]);
        const dep = r.objects[2] as any;
        expect(JSON.stringify(dep)).not.toContain("pw");
        expect(dep.spec.template.spec.initContainers[0].command.join(" ")).toContain('"$REGISTRY_PASSWORD" | htpasswd -niB');
        expect(r.objects[0].spec).toMatchObject({ storageClassName: "fast", resources: { requests: { storage: "500Gi" } } });
        // up waits for the volume, the Service and the Deployment as long as the site says, not the provider's 10 minutes.
        expect(r.objects.slice(0, 3).map((o) => o.metadata.annotations?.["pulumi.com/timeoutSeconds"])).toEqual(["1800", "1800", "1800"]);
        const short = renderRegistry({ ...registryInput("deployment"), waitSeconds: 20 });
        expect(short.objects.slice(0, 3).map((o) => o.metadata.annotations?.["pulumi.com/timeoutSeconds"])).toEqual(["20", "20", "20"]);
    });
    it("pull secret covers the external and the in-cluster address; mirrors point sources at the hub", () => {
        const input = registryInput("deployment");
        const [pull, cdi, creds] = renderRegistrySecrets(input, "registry.image-factory.svc:5000", "u", "p@ss");
        const auths = JSON.parse((pull.stringData as any)[".dockerconfigjson"]).auths;
        expect(Object.keys(auths)).toEqual(["registry.hub.example.com", "registry.image-factory.svc:5000"]);
        expect(Buffer.from(auths["registry.hub.example.com"].auth, "base64").toString()).toBe("u:p@ss");
        expect(cdi.stringData).toEqual({ accessKeyId: "u", secretKey: "p@ss" });
        expect(creds.stringData).toEqual({ username: "u", password: "p@ss" });
        expect(renderRegistry(input).mirrorSet!.spec).toEqual({
            imageDigestMirrors: [
                { source: "quay.io", mirrors: ["registry.hub.example.com/quay.io"], mirrorSourcePolicy: "NeverContactSource" },
                { source: "registry.redhat.io/rhel9", mirrors: ["registry.hub.example.com/registry.redhat.io/rhel9"], mirrorSourcePolicy: "NeverContactSource" },
            ],
        });
    });
});

describe("BuilderVm objects", () => {
    it("boots from a CDI DataVolume with cloud-init carrying the key and packages", () => {
        const { vm, service } = renderBuilderVm(builderInput());
        const spec = vm.spec as any;
        expect(spec.runStrategy).toBe("Always");
        expect(spec.dataVolumeTemplates[0].spec.source).toEqual({ registry: { url: "docker://quay.io/containerdisks/centos-stream:9", pullMethod: "node" } });
        const userData = spec.template.spec.volumes.find((v: any) => v.cloudInitNoCloud).cloudInitNoCloud.userData;
        expect(userData.startsWith("#cloud-config\n")).toBe(true);
        const ci = parse(userData);
        expect(ci.users[0]).toMatchObject({ name: "builder", ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample builder@hub"] });
        expect(ci.packages).toEqual(["podman", "buildah", "osbuild-composer"]);
        expect(ci.runcmd).toEqual([["systemctl", "enable", "--now", "osbuild-composer.socket"]]);
        expect(service.spec).toMatchObject({ type: "LoadBalancer", selector: { "image-factory/builder": "image-factory-builder" }, ports: [{ port: 22 }] });
        expect(spec.template.metadata.labels["image-factory/builder"]).toBe("image-factory-builder");
    });
    it("an ephemeral builder runs once and is not restarted after it powers off", () => {
        expect((renderBuilderVm(builderInput({ ephemeral: true })).vm.spec as any).runStrategy).toBe("Once");
    });
    it("a DataSource boot source clones by sourceRef", () => {
        const dv = (renderBuilderVm(builderInput({ source: { dataSource: { name: "rhel9", namespace: "os-images" } } })).vm.spec as any).dataVolumeTemplates[0].spec;
        expect(dv.sourceRef).toEqual({ kind: "DataSource", name: "rhel9", namespace: "os-images" });
        expect(dv.source).toBeUndefined();
    });
    it("cloud-init without osbuild-composer enables nothing", () => {
        expect(parse(renderCloudInit({ sshUser: "u", sshPublicKey: "k", packages: ["podman"] })).runcmd).toEqual([]);
    });
});

describe("Tekton pipeline", () => {
    const t = renderTektonPipeline(pipelineInput());
    const tasks = (t.pipeline.spec as any).tasks as any[];
    const task = (name: string) => tasks.find((x) => x.name === name);
    const param = (pt: any, name: string) => pt.params.find((p: any) => p.name === name)?.value;

    it("orders images parents first and builds children after their parent's tests", () => {
        expect(t.order).toEqual(["edge-base", "edge-httpd", "edge-db"]);
        expect(task("build-edge-base").runAfter).toEqual(["fetch"]);
        expect(task("build-edge-httpd").runAfter).toEqual(["fetch", "test-edge-base"]);
        expect(param(task("build-edge-httpd"), "parent-ref")).toBe("registry.image-factory.svc:5000/hub/edge-base@$(tasks.build-edge-base.results.digest)");
        expect(task("test-edge-httpd").runAfter).toEqual(["build-edge-httpd"]);
        expect(tasks.map((x) => x.name)).toEqual(["fetch", ...t.order.flatMap((i) => [`build-${i}`, `test-${i}`])]);
    });
    it("carries each image's Containerfile and definitionHash from the catalog", () => {
        for (const img of CATALOG) {
            expect(param(task(`build-${img.name}`), "containerfile")).toBe(img.containerfile);
            expect(param(task(`build-${img.name}`), "definition-hash")).toBe(img.definitionHash);
        }
        expect(JSON.parse(t.pipeline.metadata.annotations!["image-factory/definition-hashes"])).toEqual(Object.fromEntries(CATALOG.map((i) => [i.name, i.definitionHash])));
        expect(buildTag(CATALOG[0].definitionHash)).toBe(`build-${CATALOG[0].definitionHash.slice(7)}`);
    });
    it("skips tests for images whose hash was already built, and everything when the catalog in git is not the rendered one", () => {
        expect(task("test-edge-db").when).toEqual([{ input: "$(tasks.build-edge-db.results.built)", operator: "in", values: ["true"] }]);
        expect(task("build-edge-db").when).toEqual([{ input: "$(tasks.fetch.results.current)", operator: "in", values: ["true"] }]);
        expect(param(task("fetch"), "catalog-digest")).toBe(catalogDigest(CATALOG_FILES));
    });
    it("moves no release tag: the stack's release is the one owner of version, latest and channel tags", () => {
        // Every tag a step script names is the content-addressed build tag; no step copies or tags an image to anything else.
        for (const testMode of ["vm", "pod"] as const) {
            const rendered = renderTektonPipeline(pipelineInput({ testMode }));
            for (const task of rendered.tasks) {
                for (const step of (task.spec as any).steps) {
                    const where = `${task.metadata.name}/${step.name}`;
                    expect(step.script, where).not.toMatch(/skopeo\s+(copy|sync)|buildah\s+tag|podman\s+tag|oc\s+tag/);
                    for (const ref of step.script.match(/"[^"\s]*\$IMAGE[^"\s]*:[^"\s@]+"/g) ?? []) expect(ref, where).toMatch(/:build-\$\{HASH#sha256:\}"$/);
                }
                expect((task.spec as any).params.map((p: any) => p.name), task.metadata.name).not.toContain("tags");
            }
            for (const pt of (rendered.pipeline.spec as any).tasks) expect(pt.params.map((p: any) => p.name), pt.name).not.toContain("tags");
        }
    });
    it("uses the test task of the configured mode", () => {
        expect(task("test-edge-base").taskRef.name).toBe("image-factory-test-vm");
        expect(t.tasks.map((x) => x.metadata.name)).toEqual(["image-factory-fetch", "image-factory-build", "image-factory-test-vm"]);
        const pod = renderTektonPipeline(pipelineInput({ testMode: "pod" }));
        const podTask = (pod.pipeline.spec as any).tasks.find((x: any) => x.name === "test-edge-httpd");
        expect(podTask.taskRef.name).toBe("image-factory-test-pod");
        expect(param(podTask, "image-ref")).toBe("registry.image-factory.svc:5000/hub/edge-httpd@$(tasks.build-edge-httpd.results.digest)");
        expect(param(podTask, "test-script")).toBe("systemctl is-enabled httpd\n");
    });
    it("a selection brings its ancestors and nothing else", () => {
        expect(renderTektonPipeline(pipelineInput({ select: ["edge-db"] })).order).toEqual(["edge-base", "edge-db"]);
    });
    it("an unknown image in the selection is an error naming it", () => {
        expect(() => pipelineOrder(CATALOG, ["edge-db", "edge-hmi"])).toThrow(UnknownImageError);
        expect(() => pipelineOrder(CATALOG, ["edge-db", "edge-hmi"])).toThrow('unknown image "edge-hmi" (the catalog has: edge-httpd, edge-base, edge-db)');
        expect(() => pipelineOrder([{ ...CATALOG[0], parent: "ghost" }])).toThrow('image "edge-httpd" has parent "ghost", which is not in the catalog');
    });
    it("passes values to scripts through the environment, never into the script text", () => {
        for (const task of t.tasks) {
            for (const step of (task.spec as any).steps) {
                expect(step.script, `${task.metadata.name}/${step.name}`).not.toMatch(/\$\(params\./);
            }
        }
    });
    it("the trigger starts the Pipeline with the pushed commit, for pushes to the site's branch", () => {
        const { binding, template, listener } = t.trigger;
        expect((binding.spec as any).params).toEqual([{ name: "revision", value: "$(body.after)" }]);
        const run = (template.spec as any).resourcetemplates[0];
        expect(run).toMatchObject({ kind: "PipelineRun", metadata: { generateName: "image-factory-hub-" }, spec: { pipelineRef: { name: "image-factory-hub" }, taskRunTemplate: { serviceAccountName: "image-factory-pipeline" } } });
        expect(run.spec.params).toContainEqual({ name: "revision", value: "$(tt.params.revision)" });
        expect(run.spec.workspaces).toContainEqual({ name: "dockerconfig", secret: { secretName: "image-factory-registry" } });
        const trig = (listener.spec as any).triggers[0];
        expect(trig.interceptors[1].params).toEqual([{ name: "filter", value: "body.ref == 'refs/heads/main'" }]);
        expect((listener.spec as any).serviceAccountName).toBe("image-factory-trigger");
    });
    it("the trigger rejects calls not signed with the shared secret: the GitHub interceptor (HMAC) runs before anything else", () => {
        const { secret, listener } = t.trigger;
        expect(secret).toMatchObject({ apiVersion: "v1", kind: "Secret", metadata: { name: "image-factory-hub-webhook", namespace: "image-factory" }, type: "Opaque" });
        // The value is not in the rendering: it is filled in at deploy time from the stack's webhookSecret.
        expect(Object.keys(secret).sort()).toEqual(["apiVersion", "kind", "metadata", "type"]);
        const [first, ...rest] = (listener.spec as any).triggers[0].interceptors;
        expect(first).toEqual({
            ref: { name: "github", kind: "ClusterInterceptor" },
            params: [
                { name: "secretRef", value: { secretName: "image-factory-hub-webhook", secretKey: "secret" } },
                { name: "eventTypes", value: ["push"] },
            ],
        });
        expect(rest.map((i: any) => i.ref.name)).toEqual(["cel"]);
    });
    it("the run `pulumi up` starts is named after the rendering, so once per rendering", () => {
        const a = renderTektonPipeline(pipelineInput()).run;
        expect(a.metadata.name).toMatch(/^image-factory-hub-[a-f0-9]{12}$/);
        expect(a.spec).toMatchObject({ pipelineRef: { name: "image-factory-hub" }, params: [{ name: "repo-url" }, { name: "revision", value: "main" }] });
        expect(renderTektonPipeline(pipelineInput()).run.metadata.name).toBe(a.metadata.name);
        // A changed definition, catalog or site setting is a new rendering.
        const changed = [
            pipelineInput({ images: CATALOG.map((i) => (i.name === "edge-db" ? { ...i, definitionHash: `sha256:${"c".repeat(64)}` } : i)) }),
            pipelineInput({ catalog: { path: "images", digest: catalogDigest([...CATALOG_FILES, { path: "new.yaml", content: "x" }]) } }),
            pipelineInput({ testMode: "pod" }),
        ];
        for (const input of changed) expect(renderTektonPipeline(input).run.metadata.name).not.toBe(a.metadata.name);
    });
    it("exposes the EventListener by a Route only when a webhook host is configured", () => {
        expect(t.trigger.route).toBeUndefined();
        expect(renderTektonPipeline(pipelineInput({ webhookHost: "hooks.hub.example.com" })).trigger.route!.spec).toMatchObject({
            host: "hooks.hub.example.com",
            to: { kind: "Service", name: "el-image-factory-hub" },
            port: { targetPort: "http-listener" },
            tls: { termination: "edge" },
        });
    });
});

describe("pipeline scripts", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "acp-render-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("every step script is valid sh (sh -n)", () => {
        const scripts = ["vm", "pod"].flatMap((testMode) =>
            renderTektonPipeline(pipelineInput({ testMode: testMode as "vm" | "pod" })).tasks.flatMap((task) => (task.spec as any).steps.map((s: any) => ({ name: `${task.metadata.name}/${s.name}`, script: s.script }))),
        );
        for (const { name, script } of scripts) {
            // Tekton replaces $(results…)/$(steps…)/$(workspaces…) before the shell runs; stand in paths.
            const text = script.replace(/\$\((results|steps|workspaces|context)\.[^)]*\)/g, "/tmp/x");
            const file = path.join(dir, name.replace("/", "_"));
            writeFileSync(file, text);
            expect(() => execFileSync("sh", ["-n", file], { stdio: "pipe" }), name).not.toThrow();
        }
    });

    it("the fetch task's sh digest of the catalog equals catalogDigest", () => {
        const catalog = path.join(dir, "catalog");
        for (const f of CATALOG_FILES) {
            mkdirSync(path.dirname(path.join(catalog, f.path)), { recursive: true });
            writeFileSync(path.join(catalog, f.path), f.content);
        }
        const sh = execFileSync("sh", ["-c", CATALOG_DIGEST_SH], { cwd: catalog }).toString().trim();
        expect(`sha256:${sh}`).toBe(catalogDigest(CATALOG_FILES));
        writeFileSync(path.join(catalog, "edge-db.yaml"), "changed\n");
        const changed = execFileSync("sh", ["-c", CATALOG_DIGEST_SH], { cwd: catalog }).toString().trim();
        expect(`sha256:${changed}`).not.toBe(catalogDigest(CATALOG_FILES));
    });
});

describe("VM templates", () => {
    const [httpd] = renderVmTemplates({ site: "hub", namespace: "image-factory", disks: DISKS, storage: "30Gi", registrySecret: "cdi-secret", cpu: 2, memory: "4Gi" });
    it("imports the released disk by digest, names it in a DataSource, and clones from it in the template's VM", () => {
        expect(httpd.dataVolume.metadata.name).toBe("edge-httpd-1-2-0");
        expect((httpd.dataVolume.spec as any).source.registry).toEqual({ url: `docker://${DISKS[0].diskRef}`, pullMethod: "pod", secretRef: "cdi-secret" });
        expect(httpd.dataSource.spec).toEqual({ source: { pvc: { name: "edge-httpd-1-2-0", namespace: "image-factory" } } });
        const vm = (httpd.template.objects as any[])[0];
        expect(vm.spec.dataVolumeTemplates[0].spec.sourceRef).toEqual({ kind: "DataSource", name: "edge-httpd", namespace: "image-factory" });
        expect(httpd.template.metadata.labels!["template.kubevirt.io/type"]).toBe("vm");
        expect((httpd.template.parameters as any[])[0]).toMatchObject({ name: "NAME", generate: "expression" });
    });
});
