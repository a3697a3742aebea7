// Roles acp and hub on the real engine against a real Kubernetes API server
// (etcd + kube-apiserver + kube-controller-manager on loopback, see
// scripts/services/kube.ts), with the CRDs of the kinds the program declares
// (test/support/kube-crds) and a stand-in for the operators and node agents the
// cluster does not run (test/support/kube-standin.ts). The example stacks
// stacks/Pulumi.site-a.yaml (acp) and stacks/Pulumi.hub.yaml (hub) are deployed
// with only what points outside this machine replaced: the cluster, the
// registry (a real one on a loopback address, port 80, as a Route's host has no
// port), the SSH keys. The builder VM's guest is a real sshd on loopback
// (test/support/ssh-guest.ts). The hub builds the catalog's base image, boots it
// and pushes its disk as a container disk, which its VM template imports by digest.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { ExecError } from "../../components/exec";
import { RegistryClient } from "../../components/registry/client";
import { type RunningRegistry, startRegistry } from "../../scripts/services/registry";
import { generateSigningKey } from "../../components/supply-chain/sigstore";
import { startKube, type RunningKube } from "../../scripts/services/kube";
import { KubeApi, type KubeObjectJson, type ResourceRef } from "../support/kube-api";
import { installCrds } from "../support/kube-crds";
import { StandInController } from "../support/kube-standin";
import { type SshGuest, startSshGuest } from "../support/ssh-guest";
import { TestStack } from "./harness";

const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images", "stacks"];
/** Namespaces an OpenShift cluster has before this program runs; the test cluster gets them too. */
const OPENSHIFT_NAMESPACES = ["openshift-operators", "openshift-marketplace", "openshift-image-registry"];
const MANAGED = "app.kubernetes.io/managed-by=image-factory";
const REGISTRY_PASSWORD = "e2e-registry-password-5f3c9a";
const WEBHOOK_SECRET = "e2e-webhook-secret-81d2e7";
/** The test's fleet key, in place of the example's (whose private half nobody has). */
const FLEET = generateSigningKey();
/** The hub's registry: a loopback address of its own, on port 80. */
const REGISTRY_HOST = "127.0.80.1";

/** Every kind the program declares, where it is served. */
const KINDS: ResourceRef[] = [
    ["v1", "namespaces", false],
    ["v1", "serviceaccounts", true],
    ["v1", "services", true],
    ["v1", "secrets", true],
    ["v1", "configmaps", true],
    ["v1", "persistentvolumeclaims", true],
    ["apps/v1", "deployments", true],
    ["rbac.authorization.k8s.io/v1", "roles", true],
    ["rbac.authorization.k8s.io/v1", "rolebindings", true],
    ["rbac.authorization.k8s.io/v1", "clusterrolebindings", false],
    ["operators.coreos.com/v1", "operatorgroups", true],
    ["operators.coreos.com/v1alpha1", "subscriptions", true],
    ["hco.kubevirt.io/v1beta1", "hyperconvergeds", true],
    ["route.openshift.io/v1", "routes", true],
    ["config.openshift.io/v1", "imagedigestmirrorsets", false],
    ["tekton.dev/v1", "tasks", true],
    ["tekton.dev/v1", "pipelines", true],
    ["tekton.dev/v1", "pipelineruns", true],
    ["triggers.tekton.dev/v1beta1", "triggerbindings", true],
    ["triggers.tekton.dev/v1beta1", "triggertemplates", true],
    ["triggers.tekton.dev/v1beta1", "eventlisteners", true],
    ["kubevirt.io/v1", "virtualmachines", true],
    ["cdi.kubevirt.io/v1beta1", "datavolumes", true],
    ["cdi.kubevirt.io/v1beta1", "datasources", true],
    ["template.openshift.io/v1", "templates", true],
].map(([apiVersion, resource, namespaced]) => ({ apiVersion, resource, namespaced }) as ResourceRef);

interface Step {
    op: string;
    urn: string;
}

/** "<op> <type>::<name>" of a step (urn:pulumi:<stack>::<project>::<parent types$type>::<name>). */
const short = (s: Step) => {
    const [, , types, name] = s.urn.split("::");
    return `${s.op} ${types.split("$").pop()}::${name}`;
};

describe("role hub against a real API server: stacks/Pulumi.hub.yaml", () => {
    let kube: RunningKube;
    let api: KubeApi;
    let guest: SshGuest;
    let standIn: StandInController | undefined;
    let stack: TestStack;
    let registry: RunningRegistry;
    let printed = "";
    // The private key's body lines one by one (state and logs would hold the key with escaped
    // newlines), but the first: every unencrypted ed25519 key starts with the same one.
    const secretsOf = () => [
        kube.token,
        REGISTRY_PASSWORD,
        WEBHOOK_SECRET,
        ...guest.privateKey
            .split("\n")
            .filter((l) => !l.startsWith("-----") && l.length >= 60)
            .slice(1),
        ...FLEET.privateKey.split("\n").filter((l) => !l.startsWith("-----") && l.length >= 60),
    ];

    /** The objects this program made that are on the cluster now, as "<resource>/<namespace>/<name>". */
    const managedObjects = async (): Promise<string[]> => {
        const out: string[] = [];
        for (const ref of KINDS) {
            for (const o of await api.list(ref, undefined, MANAGED)) out.push(`${ref.resource}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
        }
        return out.sort();
    };
    const allObjects = async (): Promise<KubeObjectJson[]> => (await Promise.all(KINDS.map((k) => api.list(k)))).flat();
    const namespaces = async () => (await api.list(KINDS[0])).map((n) => n.metadata.name).sort();
    let baseline: string[];

    /** Secrets: not in the state file, not in any object but Secrets' data, not in what the engine printed. */
    const expectSecretsKept = async () => {
        const stateDir = path.join(stack.backendDir, ".pulumi");
        const stateFiles = (await fs.readdir(stateDir, { recursive: true })).filter((f) => f.endsWith(".json"));
        expect(stateFiles.some((f) => f.startsWith("stacks/"))).toBe(true);
        for (const f of stateFiles) {
            const state = await fs.readFile(path.join(stateDir, f), "utf8");
            for (const s of secretsOf()) expect(state.includes(s), `a secret is in plaintext in ${f}`).toBe(false);
        }
        for (const o of await allObjects()) {
            const { data, stringData, ...rest } = o as KubeObjectJson & { data?: unknown; stringData?: unknown };
            const text = JSON.stringify(o.kind === "Secret" ? rest : o);
            for (const s of secretsOf()) expect(text.includes(s), `a secret is in ${o.kind ?? "object"} ${o.metadata.namespace}/${o.metadata.name}`).toBe(false);
        }
        for (const s of secretsOf()) expect(printed.includes(s), "a secret was printed").toBe(false);
    };

    /** The template's objects on the cluster import `t.disk`, and the container disk is in the registry under its version. */
    const expectTemplate = async (t: { dataVolume: string; dataSource: string; template: string; version: string; disk: string }) => {
        const ns = "/apis/cdi.kubevirt.io/v1beta1/namespaces/image-factory";
        const dv = await api.get(`${ns}/datavolumes/${t.dataVolume}`);
        expect(dv.spec.source.registry).toEqual({ url: `docker://${t.disk}`, pullMethod: "pod", secretRef: "image-factory-registry-cdi" });
        expect(dv.status?.phase).toBe("Succeeded");
        expect((await api.get(`${ns}/datasources/${t.dataSource}`)).spec.source.pvc).toEqual({ name: t.dataVolume, namespace: "image-factory" });
        const template = await api.get(`/apis/template.openshift.io/v1/namespaces/image-factory/templates/${t.template}`);
        expect(template.metadata.annotations).toMatchObject({ "image-factory/disk": t.disk, "template.kubevirt.io/version": t.version });
        const [repository, digest] = t.disk.slice(`${REGISTRY_HOST}/`.length).split("@");
        expect(await new RegistryClient(REGISTRY_HOST).resolve(repository, t.version)).toBe(digest);
    };

    beforeAll(async () => {
        const started = Date.now();
        kube = await startKube({ log: (l) => process.env.E2E_VERBOSE && console.log(`  [kube] ${l}`) });
        console.log(`  local cluster ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        api = new KubeApi(kube.server, kube.token, kube.caCert);
        await installCrds(api);
        for (const name of OPENSHIFT_NAMESPACES) await api.create(KINDS[0], { apiVersion: "v1", kind: "Namespace", metadata: { name } });
        baseline = await namespaces();
        guest = await startSshGuest();
        registry = await startRegistry({ dataDir: await fs.mkdtemp(path.join(os.tmpdir(), "if-hub-registry-")), address: `${REGISTRY_HOST}:80` });
        stack = await TestStack.create({ files: PROJECT_FILES, stack: "hub" });
        // The example's settings, but for what points outside this machine.
        const file = path.join(stack.dir, "stacks/Pulumi.hub.yaml");
        const doc = parseDocument(await fs.readFile(file, "utf8"));
        const set = (key: string, value: unknown) => doc.setIn(["config", `image-factory:${key.split(".")[0]}`, ...key.split(".").slice(1)], value);
        set("registry.url", REGISTRY_HOST);
        // One small bootable image: built, tested, booted, signed, and its disk a VM template.
        set("images.select", ["base"]);
        // Short waits: the up without the stand-in fails quickly; long enough for the stand-in
        // to answer while the e2e-images lane uses most of the machine beside this file.
        set("acp.waitTimeoutSeconds", 45);
        // The guest is the sshd on loopback, reached as a node port on this machine.
        set("acp.builderVm.sshUser", guest.user);
        set("acp.builderVm.sshPublicKey", guest.publicKey);
        set("acp.builderVm.service", { type: "NodePort", host: "127.0.0.1" });
        set("signing.publicKey", FLEET.publicKey);
        await fs.writeFile(file, doc.toString());
        await stack.setSecret("image-factory:kubeconfig", kube.kubeconfig);
        await stack.setSecret("image-factory:registryPassword", REGISTRY_PASSWORD);
        await stack.setSecret("image-factory:webhookSecret", WEBHOOK_SECRET);
        await stack.setSecret("image-factory:sshPrivateKey", guest.privateKey);
        await stack.setSecret("image-factory:signingKey", FLEET.privateKey);
    });
    afterAll(async () => {
        await standIn?.stop();
        await stack?.cleanup();
        await registry?.stop();
        if (registry) await fs.rm(registry.dataDir, { recursive: true, force: true });
        await guest?.stop();
        await kube?.stop();
    });

    it("preview plans the hub's operators, registry, builder VM, pipeline and base's VM template", async () => {
        const r = await stack.preview(["--json"]);
        const steps = (JSON.parse(r.stdout).steps as Step[]).map(short);
        expect(steps).toEqual(
            expect.arrayContaining([
                "create kubernetes:core/v1:Namespace::namespace-image-factory",
                "create kubernetes:operators.coreos.com/v1alpha1:Subscription::subscription-openshift-cnv-kubevirt-hyperconverged",
                "create kubernetes:hco.kubevirt.io/v1beta1:HyperConverged::hyperconverged-openshift-cnv-kubevirt-hyperconverged",
                "create kubernetes:kubevirt.io/v1:VirtualMachine::virtualmachine-image-factory-image-factory-builder",
                "create command:remote:Command::hub-builder-ready",
                "create command:remote:Command::hub-builder-release",
                "create pulumi-nodejs:dynamic/image-factory:ContainerDisk::base",
                "create kubernetes:cdi.kubevirt.io/v1beta1:DataVolume::datavolume-image-factory-base-1-0-0",
                "create kubernetes:cdi.kubevirt.io/v1beta1:DataSource::datasource-image-factory-base",
                "create kubernetes:template.openshift.io/v1:Template::template-image-factory-base",
            ]),
        );
    });

    it("without the operators, up fails with a timeout naming the resource and the condition", async () => {
        // Pods run, claims bind (the node agents), but no operator installs anything.
        standIn = new StandInController(api, { guest, operators: false, log: (l) => process.env.E2E_VERBOSE && console.log(`  ${l}`) }).start();
        const err = (await stack.up().catch((e: ExecError) => e)) as ExecError;
        expect(err).toBeInstanceOf(ExecError);
        printed += err.stdout + err.stderr;
        const errors = err.stdout.split("\n").filter((l) => /error/i.test(l));
        console.log(`  the up without operators failed with:\n${errors.map((l) => `    ${l.trim()}`).join("\n")}`);
        expect(err.stdout).toMatch(/subscription-openshift-cnv-kubevirt-hyperconverged/);
        expect(err.stdout).toMatch(/installedCSV/);
        expect(err.stdout).toMatch(/time(d)? ?out/i);
    });

    it("with them (the stand-in), up converges; the builder VM is reached over real SSH and released", async () => {
        standIn!.setOperators(true);
        const r = await stack.up();
        printed += r.stdout + r.stderr;
        const sub = await api.get("/apis/operators.coreos.com/v1alpha1/namespaces/openshift-cnv/subscriptions/kubevirt-hyperconverged");
        expect(sub.spec).toMatchObject({ name: "kubevirt-hyperconverged", channel: "stable", installPlanApproval: "Manual" });
        expect(sub.status.installedCSV).toBeTruthy();
        const commands = await guest.commands();
        expect(commands.some((c) => c.includes("cloud-init status --wait"))).toBe(true);
        expect(commands.at(-1)).toContain("systemctl poweroff");
        const vms = await api.list({ apiVersion: "kubevirt.io/v1", resource: "virtualmachines", namespaced: true }, "image-factory");
        expect(vms.map((v) => v.spec.runStrategy)).toEqual(["Once"]);
        // Released: the guest powered off and KubeVirt (the stand-in) stopped the VM.
        await waitUntil(async () => (await api.get(`/apis/kubevirt.io/v1/namespaces/image-factory/virtualmachines/${vms[0].metadata.name}`)).status?.printableStatus === "Stopped");
        expect(standIn!.errors).toEqual([]);
    });

    it("base's booted disk is a VM template: a DataVolume importing its container disk by digest, a DataSource, a Template", async () => {
        const { images, vmTemplates } = await stack.outputs();
        expect(images.base.boot).toMatchObject({ targetReached: true, failedUnits: 0 });
        expect(vmTemplates.base).toEqual({
            namespace: "image-factory",
            template: "base",
            dataSource: "base",
            dataVolume: "base-1-0-0",
            version: "1.0.0",
            disk: expect.stringMatching(/^127\.0\.80\.1\/hub\/base-disk@sha256:[a-f0-9]{64}$/),
        });
        await expectTemplate(vmTemplates.base);
    });

    it("a second up changes nothing, and runs nothing on the builder", async () => {
        const before = (await guest.commands()).length;
        const r = await stack.preview(["--expect-no-changes"]);
        printed += r.stdout + r.stderr;
        expect((await guest.commands()).length).toBe(before);
    });

    it("a catalog change plans a new pipeline run for the new rendering, and nothing else", async () => {
        const file = path.join(stack.dir, "images/httpd.yaml");
        await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace("It works.", "It works (e2e change)."));
        const r = await stack.preview(["--json"]);
        // A run's name carries the rendering's digest.
        const steps = (JSON.parse(r.stdout).steps as Step[])
            .filter((s) => s.op !== "same")
            .map(short)
            .map((s) => s.replace(/-[0-9a-f]{12}$/, "-<digest>"))
            .sort();
        expect(steps).toEqual([
            "create kubernetes:tekton.dev/v1:PipelineRun::pipelinerun-image-factory-image-factory-hub-<digest>",
            "delete kubernetes:tekton.dev/v1:PipelineRun::pipelinerun-image-factory-image-factory-hub-<digest>",
            "update kubernetes:tekton.dev/v1:Pipeline::pipeline-image-factory-image-factory-hub",
        ]);
        const before = (await guest.commands()).length;
        const up = await stack.up();
        printed += up.stdout + up.stderr;
        // The superseded run stays on the cluster (retainOnDelete: the build history).
        const runs = await api.list({ apiVersion: "tekton.dev/v1", resource: "pipelineruns", namespaced: true }, "image-factory");
        expect(runs).toHaveLength(2);
        expect((await guest.commands()).length).toBe(before);
    });

    it("a new base version: a new container disk and a new DataVolume, the DataSource and Template follow it", async () => {
        const before = (await stack.outputs()).vmTemplates.base;
        const file = path.join(stack.dir, "images/base.yaml");
        await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace('version: "1.0.0"', 'version: "1.0.1"'));
        const r = await stack.preview(["--json", "--diff"]);
        const steps = (JSON.parse(r.stdout).steps as Step[]).filter((s) => s.op !== "same").map(short);
        // The disk is made, booted and pushed again (a replacement), then its template follows.
        expect(steps.filter((s) => s.endsWith("dynamic/image-factory:ContainerDisk::base"))).toContainEqual(expect.stringMatching(/^(replace|create-replacement) /));
        expect(steps).toEqual(
            expect.arrayContaining([
                "create kubernetes:cdi.kubevirt.io/v1beta1:DataVolume::datavolume-image-factory-base-1-0-1",
                "delete kubernetes:cdi.kubevirt.io/v1beta1:DataVolume::datavolume-image-factory-base-1-0-0",
                "update kubernetes:cdi.kubevirt.io/v1beta1:DataSource::datasource-image-factory-base",
                "update kubernetes:template.openshift.io/v1:Template::template-image-factory-base",
            ]),
        );
        const up = await stack.up();
        printed += up.stdout + up.stderr;
        const after = (await stack.outputs()).vmTemplates.base;
        expect(after).toMatchObject({ dataVolume: "base-1-0-1", version: "1.0.1" });
        expect(after.disk).not.toBe(before.disk);
        await expectTemplate(after);
        // The old release's DataVolume and container disk are gone.
        await expect(api.get("/apis/cdi.kubevirt.io/v1beta1/namespaces/image-factory/datavolumes/base-1-0-0")).rejects.toThrow();
        expect(await new RegistryClient(registry.address).resolve("hub/base-disk", before.disk.split("@")[1])).toBeUndefined();
    });

    it("secrets stay secret in state, objects and output", async () => {
        await expectSecretsKept();
    });

    it("destroy leaves no object behind", async () => {
        const r = await stack.destroy();
        printed += r.stdout + r.stderr;
        expect(await managedObjects()).toEqual([]);
        await waitUntil(async () => JSON.stringify(await namespaces()) === JSON.stringify(baseline), 120_000);
        await expectSecretsKept();
    });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`not true after ${timeoutMs / 1000}s`);
        await new Promise((r) => setTimeout(r, 250));
    }
}
