// `npm run cluster`: a local Kubernetes API server for trying the acp and hub
// roles on this machine. Starts etcd, kube-apiserver and kube-controller-manager
// on loopback (data in .local/kube, removed on exit), installs the CRDs the
// program's kinds need and the OpenShift namespaces a real ACP has, and runs the
// test stand-in for the operators and node agents it does not run (OLM, KubeVirt,
// CDI, kubelet) until Ctrl-C. Nothing runs pods: it shows what `up` declares and
// how it converges, not a working cluster.
import * as path from "node:path";
import { startKube } from "./services/kube";
import { KubeApi } from "../test/support/kube-api";
import { installCrds } from "../test/support/kube-crds";
import { StandInController } from "../test/support/kube-standin";

const ROOT = path.resolve(__dirname, "..");
const OPENSHIFT_NAMESPACES = ["openshift-operators", "openshift-marketplace", "openshift-image-registry"];

async function main() {
    const log = (s: string) => console.log(`[cluster] ${s}`);
    const started = Date.now();
    const kube = await startKube({ dataDir: path.join(ROOT, ".local/kube"), log });
    const api = new KubeApi(kube.server, kube.token, kube.caCert);
    const standIn = new StandInController(api, { log });
    let stopping = false;
    const stop = async () => {
        if (stopping) return;
        stopping = true;
        log("stopping");
        await standIn.stop();
        await kube.stop();
        process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    try {
        const crds = await installCrds(api);
        log(`installed ${crds.length} CRDs`);
        for (const name of OPENSHIFT_NAMESPACES)
            await api.create({ apiVersion: "v1", resource: "namespaces", namespaced: false }, { apiVersion: "v1", kind: "Namespace", metadata: { name } }).catch(() => undefined);
    } catch (e) {
        await kube.stop();
        throw e;
    }
    standIn.start();
    const rel = path.relative(process.cwd(), kube.kubeconfigPath);
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${kube.server}`);
    log(`give a stack this cluster:  npm run pulumi -- config set --secret image-factory:kubeconfig --stack <stack> < ${rel}`);
    log("Ctrl-C stops it and removes its data");
}

main().catch((e) => {
    console.error(`[cluster] error: ${(e as Error).message}`);
    process.exit(1);
});
