// The local cluster service (scripts/services/kube.ts) and what the e2e tests
// build on it: the upstream CRDs install and are enforced, the stand-in sets the
// statuses the components wait for, a builder VM's NodePort reaches the sshd
// standing in for its guest, and the controller manager deletes namespaces.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../components/exec";
import { type RunningKube, startKube } from "../../scripts/services/kube";
import { KubeApi, KubeApiError, type ResourceRef } from "../support/kube-api";
import { installCrds } from "../support/kube-crds";
import { StandInController } from "../support/kube-standin";
import { type SshGuest, startSshGuest } from "../support/ssh-guest";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ref = (apiVersion: string, resource: string, namespaced = true): ResourceRef => ({ apiVersion, resource, namespaced });
const NS = ref("v1", "namespaces", false);
const VM = ref("kubevirt.io/v1", "virtualmachines");

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await f();
            if (v) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs / 1000}s${last ? ` (${(last as Error).message})` : ""}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

describe("local cluster service", () => {
    let kube: RunningKube;
    let api: KubeApi;
    let guest: SshGuest;
    let standIn: StandInController;

    beforeAll(async () => {
        const started = Date.now();
        kube = await startKube();
        console.log(`  local cluster ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        api = new KubeApi(kube.server, kube.token, kube.caCert);
        guest = await startSshGuest();
    });
    afterAll(async () => {
        await standIn?.stop();
        await guest?.stop();
        const dir = kube?.dataDir;
        await kube?.stop();
        if (dir) await expect(fs.access(dir)).rejects.toThrow();
    });

    it("serves /readyz with the admin token from the kubeconfig, and refuses without it", async () => {
        expect(await api.get<{ gitVersion: string }>("/version")).toMatchObject({ gitVersion: "v1.34.4" });
        const anonymous = new KubeApi(kube.server, "not-the-token", kube.caCert);
        await expect(anonymous.get("/api/v1/namespaces")).rejects.toThrow(/HTTP 401/);
        expect(kube.kubeconfig).toContain(kube.server);
        expect((await fs.stat(kube.kubeconfigPath)).mode & 0o077).toBe(0);
    });

    it("installs the upstream CRDs; the API server enforces their schemas", async () => {
        const names = await installCrds(api);
        expect(names).toEqual(expect.arrayContaining(["subscriptions.operators.coreos.com", "pipelines.tekton.dev", "virtualmachines.kubevirt.io", "templates.template.openshift.io"]));
        await api.create(NS, { apiVersion: "v1", kind: "Namespace", metadata: { name: "crd-check" } });
        const bad = await api
            .create(VM, { apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", metadata: { name: "bad", namespace: "crd-check" }, spec: { runStrategy: 3, template: {} } })
            .catch((e) => e);
        expect(bad).toBeInstanceOf(KubeApiError);
        expect(String(bad.message)).toMatch(/runStrategy/);
    });

    it("the stand-in installs operators, makes HyperConverged available, runs VMs and imports disks", async () => {
        standIn = new StandInController(api, { guest }).start();
        await api.create(NS, { apiVersion: "v1", kind: "Namespace", metadata: { name: "t" } });
        await api.create(ref("operators.coreos.com/v1alpha1", "subscriptions"), {
            apiVersion: "operators.coreos.com/v1alpha1",
            kind: "Subscription",
            metadata: { name: "kubevirt-hyperconverged", namespace: "t" },
            spec: { name: "kubevirt-hyperconverged", source: "redhat-operators", sourceNamespace: "openshift-marketplace", channel: "stable" },
        });
        const sub = await until("installedCSV", async () => (await api.get("/apis/operators.coreos.com/v1alpha1/namespaces/t/subscriptions/kubevirt-hyperconverged")).status?.installedCSV);
        expect((await api.get(`/apis/operators.coreos.com/v1alpha1/namespaces/t/clusterserviceversions/${sub}`)).status.phase).toBe("Succeeded");
        await api.create(ref("hco.kubevirt.io/v1beta1", "hyperconvergeds"), {
            apiVersion: "hco.kubevirt.io/v1beta1",
            kind: "HyperConverged",
            metadata: { name: "kubevirt-hyperconverged", namespace: "t" },
            spec: {},
        });
        await until("HyperConverged Available", async () =>
            (await api.get("/apis/hco.kubevirt.io/v1beta1/namespaces/t/hyperconvergeds/kubevirt-hyperconverged")).status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True"),
        );

        const labels = { "app.kubernetes.io/component": "builder-vm", "image-factory/builder": "b" };
        await api.create(VM, {
            apiVersion: "kubevirt.io/v1",
            kind: "VirtualMachine",
            metadata: { name: "b", namespace: "t", labels },
            spec: {
                runStrategy: "Once",
                dataVolumeTemplates: [
                    {
                        metadata: { name: "b-root", labels },
                        spec: { storage: { resources: { requests: { storage: "1Gi" } } }, source: { registry: { url: "docker://quay.io/containerdisks/centos-stream:9" } } },
                    },
                ],
                template: { metadata: { labels }, spec: { domain: { cpu: { cores: 1 }, memory: { guest: "1Gi" }, devices: {} } } },
            },
        });
        await api.create(ref("v1", "services"), {
            apiVersion: "v1",
            kind: "Service",
            metadata: { name: "b-ssh", namespace: "t", labels },
            spec: { type: "NodePort", selector: { "image-factory/builder": "b" }, ports: [{ name: "ssh", port: 22, targetPort: 22 }] },
        });
        await until("VM Ready", async () => (await api.get("/apis/kubevirt.io/v1/namespaces/t/virtualmachines/b")).status?.ready);
        await until("DataVolume Succeeded", async () => (await api.get("/apis/cdi.kubevirt.io/v1beta1/namespaces/t/datavolumes/b-root")).status?.phase === "Succeeded");
        // The controller manager fills the Service's endpoints from the (stand-in) virt-launcher pod.
        await until("endpoints", async () => (await api.get<any>("/api/v1/namespaces/t/endpoints/b-ssh")).subsets?.[0]?.addresses?.length);
        expect(standIn.errors).toEqual([]);
    });

    it("a builder VM's node port reaches the guest's sshd; a poweroff there stops the VM", async () => {
        const nodePort = (await api.get("/api/v1/namespaces/t/services/b-ssh")).spec.ports[0].nodePort;
        const key = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "if-key-")), "id");
        await fs.writeFile(key, guest.privateKey, { mode: 0o600 });
        const ssh = (command: string) =>
            run("ssh", ["-i", key, "-p", String(nodePort), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", `${guest.user}@127.0.0.1`, command], {
                timeoutMs: 30_000,
            });
        const r = await until("ssh through the node port", () => ssh("sudo cloud-init status --wait"));
        expect(r.stdout).toContain("status: done");
        await ssh("sudo systemd-run --on-active=5 systemctl poweroff");
        expect(guest.poweredOff()).toBe(true);
        await until("VM Stopped", async () => (await api.get("/apis/kubevirt.io/v1/namespaces/t/virtualmachines/b")).status?.printableStatus === "Stopped");
        await fs.rm(path.dirname(key), { recursive: true, force: true });
    });

    it("deleting a namespace removes everything in it (the controller manager's namespace and garbage collectors)", async () => {
        await api.delete(NS, undefined, "t");
        await until("namespace t gone", async () => !(await api.find("/api/v1/namespaces/t")), 120_000);
        expect(await api.list(ref("cdi.kubevirt.io/v1beta1", "datavolumes"), "t")).toEqual([]);
    });
});
