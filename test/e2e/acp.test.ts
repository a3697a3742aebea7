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
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { COMPOSE_SCRIPT } from "../../components/acp/render/compose";
import { RegistryClient } from "../../components/registry/client";
import { generateSigningKey } from "../../components/supply-chain/sigstore";
import { StandInController } from "../support/kube-standin";
import { type SshGuest, startSshGuest } from "../support/ssh-guest";
import { AcpSite, changes, keyLines, type Step, short, waitUntil } from "./acp-harness";

const REGISTRY_PASSWORD = "e2e-registry-password-5f3c9a";
const WEBHOOK_SECRET = "e2e-webhook-secret-81d2e7";
/** The test's fleet key, in place of the example's (whose private half nobody has). */
const FLEET = generateSigningKey();
/** The hub's registry: a loopback address of its own, on port 80. */
const REGISTRY_HOST = "127.0.80.1";

/** What a command run on the builder was: its readiness check, a compose, or its release. */
const kindOf = (command: string) => (command.includes("cloud-init status --wait") ? "ready" : command === COMPOSE_SCRIPT ? "compose" : command.includes("systemctl poweroff") ? "release" : command);

describe("role hub against a real API server: stacks/Pulumi.hub.yaml", () => {
    let site: AcpSite;
    let api: AcpSite["api"];
    let stack: AcpSite["stack"];
    let guest: SshGuest;
    let standIn: StandInController | undefined;
    const secrets = () => [REGISTRY_PASSWORD, WEBHOOK_SECRET, ...keyLines(guest.privateKey, true), ...keyLines(FLEET.privateKey)];

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
        guest = await startSshGuest();
        // The example's settings, but for what points outside this machine.
        site = await AcpSite.start("hub", REGISTRY_HOST, (set) => {
            set("registry.url", REGISTRY_HOST);
            // base (built here, tested, booted, signed, its disk a VM template) and httpd, which
            // the example composes on the builder VM.
            set("images.select", ["base", "httpd"]);
            // Short waits: the up without the stand-in fails quickly; long enough for the stand-in
            // to answer while the e2e-images lane uses most of the machine beside this file.
            set("acp.waitTimeoutSeconds", 45);
            // The guest is the sshd on loopback, reached as a node port on this machine.
            set("acp.builderVm.sshUser", guest.user);
            set("acp.builderVm.sshPublicKey", guest.publicKey);
            set("acp.builderVm.service", { type: "NodePort", host: "127.0.0.1" });
            set("signing.publicKey", FLEET.publicKey);
        });
        ({ api, stack } = site);
        // httpd's boot has its own test (boot.test.ts); here it is composed, tested and released.
        const httpd = path.join(stack.dir, "images/httpd.yaml");
        await fs.writeFile(httpd, `${await fs.readFile(httpd, "utf8")}boot:\n  test: false\n`);
        await stack.setSecret("image-factory:registryPassword", REGISTRY_PASSWORD);
        await stack.setSecret("image-factory:webhookSecret", WEBHOOK_SECRET);
        await stack.setSecret("image-factory:sshPrivateKey", guest.privateKey);
        await stack.setSecret("image-factory:signingKey", FLEET.privateKey);
    });
    afterAll(async () => {
        await standIn?.stop();
        await site?.stop();
        await guest?.stop();
    });

    it("preview plans the hub's operators, registry, builder VM and its compose, pipeline and base's VM template", async () => {
        const r = await stack.preview(["--json"]);
        const steps = (JSON.parse(r.stdout).steps as Step[]).map(short).map((s) => s.replace(/builder-[0-9a-f]{10}$/, "builder-<generation>"));
        expect(steps).toEqual(
            expect.arrayContaining([
                "create kubernetes:core/v1:Namespace::namespace-image-factory",
                "create kubernetes:operators.coreos.com/v1alpha1:Subscription::subscription-openshift-cnv-kubevirt-hyperconverged",
                "create kubernetes:hco.kubevirt.io/v1beta1:HyperConverged::hyperconverged-openshift-cnv-kubevirt-hyperconverged",
                "create kubernetes:kubevirt.io/v1:VirtualMachine::virtualmachine-image-factory-image-factory-builder-<generation>",
                "create command:remote:Command::hub-builder-ready",
                "create command:remote:Command::hub-builder-compose-httpd",
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
        site.printed += err.stdout + err.stderr;
        const errors = err.stdout.split("\n").filter((l) => /error/i.test(l));
        console.log(`  the up without operators failed with:\n${errors.map((l) => `    ${l.trim()}`).join("\n")}`);
        expect(err.stdout).toMatch(/subscription-openshift-cnv-kubevirt-hyperconverged/);
        expect(err.stdout).toMatch(/installedCSV/);
        expect(err.stdout).toMatch(/time(d)? ?out/i);
    });

    it("with them (the stand-in), up converges; httpd is composed on the builder VM over real SSH, which is then released", async () => {
        standIn!.setOperators(true);
        const r = await stack.up();
        site.printed += r.stdout + r.stderr;
        const sub = await api.get("/apis/operators.coreos.com/v1alpha1/namespaces/openshift-cnv/subscriptions/kubevirt-hyperconverged");
        expect(sub.spec).toMatchObject({ name: "kubevirt-hyperconverged", channel: "stable", installPlanApproval: "Manual" });
        expect(sub.status.installedCSV).toBeTruthy();
        const commands = await guest.commands();
        expect(commands.map(kindOf)).toEqual(["ready", "compose", "release"]);
        // What the compose pushed is what was tested, signed and released as httpd.
        const { images } = await stack.outputs();
        const build = (await stack.resources()).find((x) => x.type.endsWith("image-factory:ImageBuild") && x.outputs?.name === "httpd")!;
        expect(build.outputs!.composedRef).toBe(images.httpd.ref);
        expect(await new RegistryClient(REGISTRY_HOST).resolve("hub/httpd", `build-${build.outputs!.definitionHash.slice(7)}`)).toBe(images.httpd.digest);
        expect(images.httpd.signature.digest).toMatch(/^sha256:/);
        expect(images.httpd.tests.passed).toBeGreaterThan(0);
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
        site.printed += r.stdout + r.stderr;
        expect((await guest.commands()).length).toBe(before);
    });

    it("a change to httpd: a fresh builder composes httpd again, and only httpd; a new pipeline run", async () => {
        const before = (await stack.outputs()).images;
        const file = path.join(stack.dir, "images/httpd.yaml");
        await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace("It works.", "It works (e2e change)."));
        const r = await stack.preview(["--json"]);
        // A run's name carries the rendering's digest; a builder's name what it is made for.
        const steps = changes(r.stdout).map((s) => s.replace(/-[0-9a-f]{12}$/, "-<digest>").replace(/builder-[0-9a-f]{10}$/, "builder-<generation>"));
        expect(steps.filter((s) => /::base(-disk)?$|base-1-0-0$/.test(s))).toEqual([]);
        expect(steps).toEqual(
            expect.arrayContaining([
                "create kubernetes:kubevirt.io/v1:VirtualMachine::virtualmachine-image-factory-image-factory-builder-<generation>",
                "delete kubernetes:kubevirt.io/v1:VirtualMachine::virtualmachine-image-factory-image-factory-builder-<generation>",
                "update command:remote:Command::hub-builder-compose-httpd",
                "update pulumi-nodejs:dynamic/image-factory:ImageBuild::httpd",
                "update pulumi-nodejs:dynamic/image-factory:ImageRelease::httpd",
                "create kubernetes:tekton.dev/v1:PipelineRun::pipelinerun-image-factory-image-factory-hub-<digest>",
                "update kubernetes:tekton.dev/v1:Pipeline::pipeline-image-factory-image-factory-hub",
            ]),
        );
        const ran = (await guest.commands()).length;
        await guest.clearPoweroff();
        const up = await stack.up();
        site.printed += up.stdout + up.stderr;
        expect((await guest.commands()).slice(ran).map(kindOf)).toEqual(["ready", "compose", "release"]);
        const after = (await stack.outputs()).images;
        expect(after.base.digest).toBe(before.base.digest);
        expect(after.httpd.digest).not.toBe(before.httpd.digest);
        // The superseded run stays on the cluster (retainOnDelete: the build history).
        const runs = await api.list({ apiVersion: "tekton.dev/v1", resource: "pipelineruns", namespaced: true }, "image-factory");
        expect(runs).toHaveLength(2);
        // One builder VM: the spent one is gone.
        expect(await api.list({ apiVersion: "kubevirt.io/v1", resource: "virtualmachines", namespaced: true }, "image-factory")).toHaveLength(1);
    });

    it("a new base version: a new container disk and a new DataVolume, the DataSource and Template follow it", async () => {
        const before = (await stack.outputs()).vmTemplates.base;
        const file = path.join(stack.dir, "images/base.yaml");
        await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace('version: "1.0.0"', 'version: "1.0.1"'));
        const r = await stack.preview(["--json", "--diff"]);
        const steps = changes(r.stdout);
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
        // httpd is built on base: a fresh builder composes it again (the spent one is powered off).
        await guest.clearPoweroff();
        const up = await stack.up();
        site.printed += up.stdout + up.stderr;
        const after = (await stack.outputs()).vmTemplates.base;
        expect(after).toMatchObject({ dataVolume: "base-1-0-1", version: "1.0.1" });
        expect(after.disk).not.toBe(before.disk);
        await expectTemplate(after);
        // The old release's DataVolume and container disk are gone.
        await expect(api.get("/apis/cdi.kubevirt.io/v1beta1/namespaces/image-factory/datavolumes/base-1-0-0")).rejects.toThrow();
        expect(await new RegistryClient(site.registry.address).resolve("hub/base-disk", before.disk.split("@")[1])).toBeUndefined();
    });

    it("secrets stay secret in state, objects and output", async () => {
        await site.expectSecretsKept(secrets());
    });

    it("destroy leaves no object behind", async () => {
        const r = await stack.destroy();
        site.printed += r.stdout + r.stderr;
        await site.expectNothingLeft();
        await site.expectSecretsKept(secrets());
    });
});
