// A test-only stand-in for the operators and node agents the test cluster does
// not run (it has an API server and a controller manager, but no OLM, KubeVirt,
// CDI, kubelet or kube-proxy). It polls the API and writes what those would:
//
//   OLM          a Subscription gets its ClusterServiceVersion (phase Succeeded)
//                and status.installedCSV, as once an InstallPlan is approved and
//                installed (Manual approval: the stand-in approves, as an admin would)
//   HCO          HyperConverged: conditions Available, ReconcileComplete
//   KubeVirt     a running VirtualMachine gets its DataVolumes (from
//                dataVolumeTemplates, owned by the VM), a virt-launcher Pod with the
//                template's labels, and status Ready; a builder VM whose guest (the
//                sshd, see ssh-guest.ts) powered off stops (runStrategy Once: it stays so)
//   CDI          DataVolume: phase Succeeded, progress 100.0%
//   scheduler    every Pod is bound to the one Node, "stand-in-node" (an API object only)
//   kubelet      every Pod: Running and Ready, with a pod IP (never a target of traffic);
//                a terminating Pod is confirmed gone (deleted with no grace period)
//   storage      every PersistentVolumeClaim: Bound, with the capacity it requested
//   kube-proxy   a NodePort Service whose endpoints are a builder VM: 127.0.0.1:<nodePort>
//                forwards to the sshd standing in for the guest
//
// It acts only on what the program declares; the statuses it writes are the
// ones the components wait for, so an up without it times out on them.
import * as net from "node:net";
import type { KubeApi, ResourceRef } from "./kube-api";
import { KubeApiError } from "./kube-api";

const R = {
    subscriptions: { apiVersion: "operators.coreos.com/v1alpha1", resource: "subscriptions", namespaced: true },
    csvs: { apiVersion: "operators.coreos.com/v1alpha1", resource: "clusterserviceversions", namespaced: true },
    hyperconvergeds: { apiVersion: "hco.kubevirt.io/v1beta1", resource: "hyperconvergeds", namespaced: true },
    vms: { apiVersion: "kubevirt.io/v1", resource: "virtualmachines", namespaced: true },
    dvs: { apiVersion: "cdi.kubevirt.io/v1beta1", resource: "datavolumes", namespaced: true },
    pods: { apiVersion: "v1", resource: "pods", namespaced: true },
    pvcs: { apiVersion: "v1", resource: "persistentvolumeclaims", namespaced: true },
    nodes: { apiVersion: "v1", resource: "nodes", namespaced: false },
    services: { apiVersion: "v1", resource: "services", namespaced: true },
} satisfies Record<string, ResourceRef>;

const NODE = "stand-in-node";
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const condition = (type: string, status: "True" | "False", reason: string, message = "") => ({ type, status, reason, message, lastTransitionTime: now(), lastProbeTime: null });

export interface StandInOptions {
    /**
     * The sshd standing in for the builder VM's guest: 127.0.0.1:<nodePort> of a
     * builder VM's NodePort Service forwards to it, and once it recorded a poweroff,
     * the builder VMs stop.
     */
    guest?: { host: string; port: number; poweredOff(): boolean };
    /**
     * false: only the node agents (scheduler, kubelet, storage, kube-proxy) act, as on
     * a cluster whose operators (OLM, HCO, KubeVirt, CDI) are not installed. Default true.
     */
    operators?: boolean;
    /** How often the API is polled. Default 300 ms. */
    intervalMs?: number;
    log?: (line: string) => void;
}

export class StandInController {
    private timer?: NodeJS.Timeout;
    private running = false;
    private stopped = false;
    private readonly proxies = new Map<number, net.Server>();
    private podIp = 10;
    /** Errors of the last passes (a stand-in must not fail silently). */
    readonly errors: string[] = [];

    constructor(
        private readonly api: KubeApi,
        private readonly opts: StandInOptions = {},
    ) {}

    /** The operators arrive (or go): see StandInOptions.operators. */
    setOperators(on: boolean): this {
        this.opts.operators = on;
        return this;
    }

    start(): this {
        const tick = async () => {
            if (this.stopped) return;
            if (!this.running) {
                this.running = true;
                try {
                    await this.pass();
                } catch (e) {
                    const msg = (e as Error).message;
                    // 429: the API server asks to retry (e.g. a new CRD's storage is still starting); the next pass does.
                    const retry = e instanceof KubeApiError && e.status === 429;
                    if (!retry && this.errors.at(-1) !== msg) this.errors.push(msg);
                    this.opts.log?.(`stand-in: ${msg}${retry ? " (retrying)" : ""}`);
                } finally {
                    this.running = false;
                }
            }
            if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 300);
        };
        void tick();
        return this;
    }

    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        while (this.running) await new Promise((r) => setTimeout(r, 50));
        await Promise.all([...this.proxies.values()].map((s) => new Promise((r) => s.close(r))));
        this.proxies.clear();
    }

    /** One reconciliation of everything; exposed so tests can run it deterministically. */
    async pass(): Promise<void> {
        // Each agent on its own: one that fails (say, on a namespace being deleted) must not
        // keep the others (the kubelet confirming that namespace's pods gone) from acting.
        let first: unknown;
        const operators = this.opts.operators === false ? [] : [this.subscriptions, this.hyperConvergeds, this.virtualMachines, this.dataVolumes];
        for (const agent of [...operators, this.pods, this.volumeClaims, this.nodePorts]) {
            try {
                await agent.call(this);
            } catch (e) {
                first ??= e;
            }
        }
        if (first) throw first;
    }

    private log(line: string) {
        this.opts.log?.(`stand-in: ${line}`);
    }

    private async tolerateGone(f: () => Promise<unknown>): Promise<void> {
        try {
            await f();
        } catch (e) {
            // 404: gone, 409: there already, 403 "being terminated": its namespace is going away.
            if (!(e instanceof KubeApiError && (e.status === 404 || e.status === 409 || (e.status === 403 && /being terminated/.test(e.message))))) throw e;
        }
    }

    private async subscriptions() {
        const subs = await this.api.list(R.subscriptions);
        for (const sub of subs) {
            if (sub.metadata.deletionTimestamp || sub.status?.installedCSV) continue;
            const csvName = `${sub.spec.name}.v0.0.0-standin`;
            await this.tolerateGone(() =>
                this.api.create(R.csvs, {
                    apiVersion: R.csvs.apiVersion,
                    kind: "ClusterServiceVersion",
                    metadata: { name: csvName, namespace: sub.metadata.namespace, labels: { "image-factory.test/stand-in": "true" } },
                    spec: { displayName: `${sub.spec.name} (stand-in)`, install: { strategy: "deployment", spec: { deployments: [] } } },
                }),
            );
            await this.api.patchStatus(
                R.csvs,
                { metadata: { name: csvName, namespace: sub.metadata.namespace } },
                { phase: "Succeeded", reason: "InstallSucceeded", message: "install strategy completed with no errors" },
            );
            await this.api.patchStatus(R.subscriptions, sub, {
                installedCSV: csvName,
                currentCSV: csvName,
                state: "AtLatestKnown",
                lastUpdated: now(),
                conditions: [{ type: "CatalogSourcesUnhealthy", status: "False", reason: "AllCatalogSourcesHealthy" }],
            });
            this.log(`Subscription ${sub.metadata.namespace}/${sub.metadata.name}: installed ${csvName}`);
        }
        // OLM leaves a CSV behind when its Subscription goes; the stand-in removes its own.
        const wanted = new Set(subs.map((s) => `${s.metadata.namespace}/${s.spec.name}.v0.0.0-standin`));
        for (const csv of await this.api.list(R.csvs)) {
            if (csv.metadata.labels?.["image-factory.test/stand-in"] === "true" && !wanted.has(`${csv.metadata.namespace}/${csv.metadata.name}`)) {
                await this.api.delete(R.csvs, csv.metadata.namespace, csv.metadata.name);
            }
        }
    }

    private async hyperConvergeds() {
        for (const hc of await this.api.list(R.hyperconvergeds)) {
            if (hc.metadata.deletionTimestamp || hc.status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True")) continue;
            await this.api.patchStatus(R.hyperconvergeds, hc, {
                conditions: [
                    condition("ReconcileComplete", "True", "ReconcileCompleted", "Reconcile completed successfully"),
                    condition("Available", "True", "ReconcileCompleted", "Reconcile completed successfully"),
                    condition("Progressing", "False", "ReconcileCompleted", "Reconcile completed successfully"),
                    condition("Degraded", "False", "ReconcileCompleted", "Reconcile completed successfully"),
                    condition("Upgradeable", "True", "ReconcileCompleted", "Reconcile completed successfully"),
                ].map(({ lastProbeTime, ...c }) => c),
            });
            this.log(`HyperConverged ${hc.metadata.namespace}/${hc.metadata.name}: Available`);
        }
    }

    private async virtualMachines() {
        for (const vm of await this.api.list(R.vms)) {
            if (vm.metadata.deletionTimestamp) continue;
            const key = `${vm.metadata.namespace}/${vm.metadata.name}`;
            const owner = [{ apiVersion: R.vms.apiVersion, kind: "VirtualMachine", name: vm.metadata.name, uid: vm.metadata.uid!, controller: true, blockOwnerDeletion: true }];
            for (const t of vm.spec.dataVolumeTemplates ?? []) {
                await this.tolerateGone(() =>
                    this.api.create(R.dvs, { apiVersion: R.dvs.apiVersion, kind: "DataVolume", metadata: { ...t.metadata, namespace: vm.metadata.namespace, ownerReferences: owner }, spec: t.spec }),
                );
            }
            const strategy = vm.spec.runStrategy ?? (vm.spec.running ? "Always" : "Halted");
            const launcher = `virt-launcher-${vm.metadata.name}`.slice(0, 63);
            const isBuilder = vm.metadata.labels?.["app.kubernetes.io/component"] === "builder-vm";
            if ((isBuilder && this.opts.guest?.poweredOff()) || strategy === "Halted") {
                if (vm.status?.printableStatus !== "Stopped") {
                    await this.api.delete(R.pods, vm.metadata.namespace, launcher);
                    await this.api.patchStatus(R.vms, vm, {
                        printableStatus: "Stopped",
                        ready: false,
                        created: false,
                        runStrategy: strategy,
                        conditions: [{ ...condition("Ready", "False", "VMINotExists", "VMI does not exist"), lastProbeTime: null }],
                    });
                    this.log(`VirtualMachine ${key}: Stopped`);
                }
                continue;
            }
            if (vm.status?.ready) continue;
            await this.tolerateGone(() =>
                this.api.create(R.pods, {
                    apiVersion: "v1",
                    kind: "Pod",
                    metadata: {
                        name: launcher,
                        namespace: vm.metadata.namespace,
                        labels: { ...(vm.spec.template?.metadata?.labels ?? {}), "kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vm.metadata.name },
                        ownerReferences: owner,
                    },
                    spec: { containers: [{ name: "compute", image: "quay.io/kubevirt/virt-launcher:stand-in" }] },
                }),
            );
            await this.api.patchStatus(R.vms, vm, {
                printableStatus: "Running",
                ready: true,
                created: true,
                runStrategy: strategy,
                conditions: [condition("Ready", "True", "", ""), condition("AgentConnected", "True", "", "")],
            });
            this.log(`VirtualMachine ${key}: Running, Ready`);
        }
    }

    private async dataVolumes() {
        for (const dv of await this.api.list(R.dvs)) {
            if (dv.metadata.deletionTimestamp || dv.status?.phase === "Succeeded") continue;
            await this.api.patchStatus(R.dvs, dv, {
                phase: "Succeeded",
                progress: "100.0%",
                claimName: dv.metadata.name,
                conditions: [condition("Bound", "True", "Bound", ""), condition("Ready", "True", "", ""), condition("Running", "False", "Completed", "")].map(({ lastProbeTime, ...c }) => ({
                    ...c,
                    lastHeartbeatTime: now(),
                })),
            });
            this.log(`DataVolume ${dv.metadata.namespace}/${dv.metadata.name}: Succeeded`);
        }
    }

    private nodeReady = false;

    private async pods() {
        if (!this.nodeReady) {
            await this.tolerateGone(() => this.api.create(R.nodes, { apiVersion: "v1", kind: "Node", metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE } } }));
            this.nodeReady = true;
        }
        for (const pod of await this.api.list(R.pods)) {
            if (pod.metadata.deletionTimestamp) {
                // A bound pod is deleted gracefully: the API server keeps it until its node's
                // kubelet confirms the containers are gone. Without that, namespaces and
                // foreground deletion of the pod's owners never finish.
                await this.api.delete(R.pods, pod.metadata.namespace, pod.metadata.name, true);
                continue;
            }
            if (pod.status?.phase === "Running") continue;
            if (!pod.spec.nodeName) {
                // Endpoints name the node of each address: a pod needs one to be served.
                await this.tolerateGone(() =>
                    this.api.request("POST", `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/binding`, {
                        apiVersion: "v1",
                        kind: "Binding",
                        metadata: { name: pod.metadata.name },
                        target: { apiVersion: "v1", kind: "Node", name: NODE },
                    }),
                );
            }
            const ip = `10.244.0.${this.podIp++ % 250}`;
            const t = now();
            const ready = (type: string) => ({ type, status: "True", lastTransitionTime: t, lastProbeTime: null });
            await this.api.patchStatus(R.pods, pod, {
                phase: "Running",
                podIP: ip,
                podIPs: [{ ip }],
                hostIP: "10.0.0.1",
                startTime: t,
                conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(ready),
                containerStatuses: (pod.spec.containers ?? []).map((c: any) => ({
                    name: c.name,
                    image: c.image,
                    imageID: "",
                    ready: true,
                    started: true,
                    restartCount: 0,
                    state: { running: { startedAt: t } },
                })),
            });
        }
    }

    private async volumeClaims() {
        for (const pvc of await this.api.list(R.pvcs)) {
            if (pvc.metadata.deletionTimestamp || pvc.status?.phase === "Bound") continue;
            await this.api.patchStatus(R.pvcs, pvc, {
                phase: "Bound",
                accessModes: pvc.spec.accessModes,
                capacity: { storage: pvc.spec.resources?.requests?.storage ?? "1Gi" },
            });
        }
    }

    private async nodePorts() {
        const target = this.opts.guest;
        if (!target) return;
        const wanted = new Set<number>();
        for (const svc of await this.api.list(R.services)) {
            if (svc.spec.type !== "NodePort" || svc.metadata.labels?.["app.kubernetes.io/component"] !== "builder-vm") continue;
            const port = svc.spec.ports?.[0]?.nodePort as number | undefined;
            if (!port) continue;
            wanted.add(port);
            if (!this.proxies.has(port)) this.proxies.set(port, await forward(port, target));
        }
        for (const [port, server] of this.proxies) {
            if (!wanted.has(port)) {
                server.close();
                this.proxies.delete(port);
            }
        }
    }
}

/** Listens on 127.0.0.1:`port` and pipes each connection to `target`. */
function forward(port: number, target: { host: string; port: number }): Promise<net.Server> {
    return new Promise((resolve, reject) => {
        const server = net.createServer((client) => {
            const upstream = net.connect(target.port, target.host);
            client.pipe(upstream).pipe(client);
            const end = () => {
                client.destroy();
                upstream.destroy();
            };
            client.on("error", end);
            upstream.on("error", end);
        });
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve(server));
    });
}
