// A real Kubernetes API server on loopback: etcd, kube-apiserver and
// kube-controller-manager (built from Go modules by scripts/toolchain.sh), with
// a throwaway CA, serving certificate, service-account key and admin token, all
// in a temp data folder that stop() removes. No scheduler and no kubelet:
// nothing runs pods. The e2e tests start one per file; `npm run cluster` starts one
// for trying the acp/hub roles on this machine.
//
// The admin token reaches the API server in a token file (0600) and clients in
// the kubeconfig (0600), never on a command line.
import { randomBytes } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { run, startBackground, type Background } from "../../components/exec";
import { cacheDir } from "../../components/cache";
import { freePort } from "../../components/net";

/** Where scripts/toolchain.sh puts the cluster binaries (same rule as scripts/lib.sh). */
export interface KubeBinaries {
    etcd: string;
    apiserver: string;
    controllerManager: string;
}

/** The Kubernetes release scripts/toolchain.sh builds the cluster from. */
export const KUBE_VERSION = "v1.34.4";

/** The toolchain's build, or the folder IMAGE_FACTORY_KUBE_BIN names (the same three binaries from elsewhere). */
export function kubeBinaries(): KubeBinaries {
    const dir = process.env.IMAGE_FACTORY_KUBE_BIN || path.join(cacheDir(), "toolchain", `kube-${KUBE_VERSION}`, "bin");
    return { etcd: path.join(dir, "etcd"), apiserver: path.join(dir, "kube-apiserver"), controllerManager: path.join(dir, "kube-controller-manager") };
}

export interface RunningKube {
    /** https://127.0.0.1:<port> */
    server: string;
    /** A kubeconfig with the admin token and the CA (a secret: it grants cluster-admin). */
    kubeconfig: string;
    kubeconfigPath: string;
    /** The cluster admin's bearer token (a secret). */
    token: string;
    /** PEM of the CA that signed the API server's certificate. */
    caCert: string;
    dataDir: string;
    /** Per process: its log file. */
    logs: Record<"etcd" | "kube-apiserver" | "kube-controller-manager", string>;
    /** Stops the three processes (controller manager first, etcd last) and removes the data folder. */
    stop(): Promise<void>;
}

/** The last `n` lines of a log file, or a note that it is empty or missing. */
export async function logTail(file: string, n = 20): Promise<string> {
    try {
        const lines = (await fs.readFile(file, "utf8")).trimEnd().split("\n");
        return lines.slice(-n).join("\n") || "(empty log)";
    } catch {
        return `(no log at ${file})`;
    }
}

/** A kubeconfig for one cluster and one bearer-token user. */
export function renderKubeconfig(opts: { name: string; server: string; caCert: string; token: string }): string {
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: opts.name, cluster: { server: opts.server, "certificate-authority-data": Buffer.from(opts.caCert).toString("base64") } }],
        users: [{ name: `${opts.name}-admin`, user: { token: opts.token } }],
        contexts: [{ name: opts.name, context: { cluster: opts.name, user: `${opts.name}-admin` } }],
        "current-context": opts.name,
    });
}

/** The API server's flags: loopback only, token and client-certificate auth, RBAC. */
export function apiserverArgs(o: { dir: string; etcd: string; port: number }): string[] {
    const f = (name: string) => path.join(o.dir, name);
    return [
        `--etcd-servers=${o.etcd}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${o.port}`,
        `--tls-cert-file=${f("apiserver.crt")}`,
        `--tls-private-key-file=${f("apiserver.key")}`,
        `--client-ca-file=${f("ca.crt")}`,
        `--token-auth-file=${f("tokens.csv")}`,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        `--service-account-key-file=${f("sa.pub")}`,
        `--service-account-signing-key-file=${f("sa.key")}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        "--profiling=false",
        // Nothing here serves OpenAPI v2 consumers that need it fast; keep the server lean.
        "--enable-priority-and-fairness=false",
    ];
}

/** The controller manager's flags: the controllers that delete namespaces, collect garbage and fill endpoints. */
export function controllerManagerArgs(o: { dir: string }): string[] {
    const f = (name: string) => path.join(o.dir, name);
    return [
        `--kubeconfig=${f("controller-manager.kubeconfig")}`,
        "--leader-elect=false",
        // No serving port: nothing scrapes it, and a fixed port would collide between test files.
        "--secure-port=0",
        `--service-account-private-key-file=${f("sa.key")}`,
        `--root-ca-file=${f("ca.crt")}`,
        "--use-service-account-credentials=false",
        "--concurrent-gc-syncs=5",
        "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-ttl,-bootstrapsigner,-tokencleaner",
    ];
}

async function makeCerts(dir: string, log: (s: string) => void): Promise<void> {
    const f = (name: string) => path.join(dir, name);
    const openssl = (args: string[]) => run("openssl", args, { cwd: dir, timeoutMs: 60_000 });
    log("generating a throwaway CA, the API server's certificate and the service-account key");
    // Both certificates: a fresh P-256 key, valid for a week; the server's is signed by the CA.
    const certificate = (key: string, crt: string, subject: string, extra: string[] = []) =>
        openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f(key), "-out", f(crt), "-days", "7", "-subj", subject, ...extra]);
    await certificate("ca.key", "ca.crt", "/CN=image-factory-test-ca");
    await certificate("apiserver.key", "apiserver.crt", "/CN=kube-apiserver", [
        "-CA",
        f("ca.crt"),
        "-CAkey",
        f("ca.key"),
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]);
    await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f("sa.key")]);
    await openssl(["pkey", "-in", f("sa.key"), "-pubout", "-out", f("sa.pub")]);
}

/** Resolves when GET <server><path> answers 200 with the token; rejects with the status and body otherwise. */
export function getWithToken(server: string, urlPath: string, token: string, ca: string, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
        const req = https.request(new URL(urlPath, server), { method: "GET", ca, headers: { Authorization: `Bearer ${token}` }, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
                const body = Buffer.concat(chunks).toString("utf8");
                if (res.statusCode === 200) resolve(body);
                else reject(new Error(`GET ${urlPath}: HTTP ${res.statusCode}: ${body.trim().split("\n").slice(-8).join("\n")}`));
            });
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: no answer in ${timeoutMs / 1000}s`)));
        req.on("error", reject);
        req.end();
    });
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager on free loopback ports
 * with data under `dataDir` (default: a new temp folder), writes the kubeconfig
 * there, and resolves once /readyz answers ok. A process that exits or a server
 * that is not ready in `timeoutMs` fails with the last lines of the logs.
 */
export async function startKube(opts: { dataDir?: string; binaries?: KubeBinaries; timeoutMs?: number; log?: (s: string) => void } = {}): Promise<RunningKube> {
    const log = opts.log ?? (() => undefined);
    const bin = opts.binaries ?? kubeBinaries();
    for (const [what, file] of Object.entries(bin)) {
        try {
            await fs.access(file, fs.constants.X_OK);
        } catch {
            throw new Error(`the local cluster is not built (${what}: ${file} is missing): run \`bash scripts/toolchain.sh --for cluster\``);
        }
    }
    const dir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "if-kube-")));
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const f = (name: string) => path.join(dir, name);
    const procs: Array<{ name: string; proc: Background }> = [];
    const logs = { etcd: f("etcd.log"), "kube-apiserver": f("kube-apiserver.log"), "kube-controller-manager": f("kube-controller-manager.log") };
    const stop = async () => {
        for (const p of [...procs].reverse()) await p.proc.stop();
        procs.length = 0;
        await fs.rm(dir, { recursive: true, force: true });
    };
    try {
        await makeCerts(dir, log);
        const token = randomBytes(24).toString("base64url");
        const controllerToken = randomBytes(24).toString("base64url");
        await fs.writeFile(f("tokens.csv"), `${token},image-factory-admin,1,"system:masters"\n${controllerToken},system:kube-controller-manager,2,"system:masters"\n`, { mode: 0o600 });
        const caCert = await fs.readFile(f("ca.crt"), "utf8");

        const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
        const etcdUrl = `http://127.0.0.1:${etcdClient}`;
        log(`starting etcd on ${etcdUrl}`);
        const etcd = startBackground(
            bin.etcd,
            [
                "--name=local",
                `--data-dir=${f("etcd")}`,
                `--listen-client-urls=${etcdUrl}`,
                `--advertise-client-urls=${etcdUrl}`,
                `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
                `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
                `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
                // A throwaway test store: skipping fsync spares the shared disk.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            { logFile: logs.etcd },
        );
        procs.push({ name: "etcd", proc: etcd });

        const server = `https://127.0.0.1:${apiPort}`;
        log(`starting kube-apiserver on ${server}`);
        const apiserver = startBackground(bin.apiserver, apiserverArgs({ dir, etcd: etcdUrl, port: apiPort }), { logFile: logs["kube-apiserver"] });
        procs.push({ name: "kube-apiserver", proc: apiserver });

        const kubeconfig = renderKubeconfig({ name: "image-factory-test", server, caCert, token });
        await fs.writeFile(f("kubeconfig"), kubeconfig, { mode: 0o600 });
        await fs.writeFile(f("controller-manager.kubeconfig"), renderKubeconfig({ name: "image-factory-test", server, caCert, token: controllerToken }), { mode: 0o600 });

        const exitedEarly = async () => {
            for (const p of procs) {
                const ended = await Promise.race([p.proc.exited.then(() => true), new Promise((r) => setImmediate(() => r(false)))]);
                if (ended) return p.name as keyof typeof logs;
            }
            return undefined;
        };
        const started = Date.now();
        const deadline = started + (opts.timeoutMs ?? 120_000);
        let last = "no answer yet";
        for (;;) {
            const gone = await exitedEarly();
            if (gone) throw new Error(`${gone} exited before the API server was ready; last lines of ${logs[gone]}:\n${await logTail(logs[gone])}`);
            try {
                await getWithToken(server, "/readyz", token, caCert, 3000);
                break;
            } catch (e) {
                last = (e as Error).message;
            }
            if (Date.now() > deadline) {
                throw new Error(
                    `the API server on ${server} was not ready in ${Math.round((deadline - started) / 1000)}s (${last}); last lines of ${logs["kube-apiserver"]}:\n${await logTail(logs["kube-apiserver"])}`,
                );
            }
            await new Promise((r) => setTimeout(r, 250));
        }
        log(`kube-apiserver is ready after ${((Date.now() - started) / 1000).toFixed(1)}s`);

        log("starting kube-controller-manager");
        const kcm = startBackground(bin.controllerManager, controllerManagerArgs({ dir }), { logFile: logs["kube-controller-manager"] });
        procs.push({ name: "kube-controller-manager", proc: kcm });
        const kcmGone = await Promise.race([kcm.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 1500))]);
        if (kcmGone) throw new Error(`kube-controller-manager exited; last lines of ${logs["kube-controller-manager"]}:\n${await logTail(logs["kube-controller-manager"])}`);

        return { server, kubeconfig, kubeconfigPath: f("kubeconfig"), token, caCert, dataDir: dir, logs, stop };
    } catch (e) {
        await stop();
        throw e;
    }
}

/** True when all three binaries are built. */
export function kubeBuilt(bin: KubeBinaries = kubeBinaries()): boolean {
    return Object.values(bin).every((file) => existsSync(file));
}
