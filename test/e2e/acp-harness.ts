// What the ACP e2e files (acp.test.ts: role hub, acp-site.test.ts: role acp) share:
// a real API server on loopback with the upstream CRDs and the namespaces an
// OpenShift cluster has, a registry on a loopback address of its own on port 80
// (a Route's host has no port), an example stack copied with only what points
// outside this machine replaced, and the checks every ACP stack must pass.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "vitest";
import { type Document, parseDocument } from "yaml";
import { type RunningRegistry, startRegistry } from "../../scripts/services/registry";
import { startKube, type RunningKube } from "../../scripts/services/kube";
import { KubeApi, type KubeObjectJson, type ResourceRef } from "../support/kube-api";
import { installCrds } from "../support/kube-crds";
import { TestStack } from "./harness";

export const PROJECT_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images", "stacks"];
/** Namespaces an OpenShift cluster has before this program runs; the test cluster gets them too. */
const OPENSHIFT_NAMESPACES = ["openshift-operators", "openshift-marketplace", "openshift-image-registry"];
const MANAGED = "app.kubernetes.io/managed-by=image-factory";

/** Every kind the program declares, where it is served. */
export const KINDS: ResourceRef[] = [
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

export interface Step {
    op: string;
    urn: string;
}

/** "<op> <type>::<name>" of a step (urn:pulumi:<stack>::<project>::<parent types$type>::<name>). */
export const short = (s: Step) => {
    const [, , types, name] = s.urn.split("::");
    return `${s.op} ${types.split("$").pop()}::${name}`;
};

/** The steps of `preview --json` that change something, as short strings. */
export const changes = (previewJson: string) =>
    (JSON.parse(previewJson).steps as Step[])
        .filter((s) => s.op !== "same")
        .map(short)
        .sort();

export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`not true after ${timeoutMs / 1000}s`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** The local cluster, the site's registry and its stack, as one ACP site under test. */
export class AcpSite {
    /** Everything the engine printed, for the secrets check. */
    printed = "";
    private baseline: string[] = [];

    private constructor(
        readonly kube: RunningKube,
        readonly api: KubeApi,
        readonly registry: RunningRegistry,
        readonly stack: TestStack,
    ) {}

    /**
     * Starts the cluster and the registry on `registryHost`:80 and copies the example stack
     * `stacks/Pulumi.<stackName>.yaml`, whose settings `edit` changes (only what points
     * outside this machine, and what keeps the test short).
     */
    static async start(stackName: string, registryHost: string, edit: (set: (key: string, value: unknown) => void, doc: Document) => void): Promise<AcpSite> {
        const started = Date.now();
        const kube = await startKube({ log: (l) => process.env.E2E_VERBOSE && console.log(`  [kube] ${l}`) });
        console.log(`  local cluster ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        const api = new KubeApi(kube.server, kube.token, kube.caCert);
        await installCrds(api);
        for (const name of OPENSHIFT_NAMESPACES) await api.create(KINDS[0], { apiVersion: "v1", kind: "Namespace", metadata: { name } });
        const registry = await startRegistry({ dataDir: await fs.mkdtemp(path.join(os.tmpdir(), `if-${stackName}-registry-`)), address: `${registryHost}:80` });
        const stack = await TestStack.create({ files: PROJECT_FILES, stack: stackName });
        const file = path.join(stack.dir, `stacks/Pulumi.${stackName}.yaml`);
        const doc = parseDocument(await fs.readFile(file, "utf8"));
        edit((key, value) => doc.setIn(["config", `image-factory:${key.split(".")[0]}`, ...key.split(".").slice(1)], value), doc);
        await fs.writeFile(file, doc.toString());
        await stack.setSecret("image-factory:kubeconfig", kube.kubeconfig);
        const site = new AcpSite(kube, api, registry, stack);
        site.baseline = await site.namespaces();
        return site;
    }

    async stop(): Promise<void> {
        await this.stack?.cleanup();
        await this.registry.stop();
        await fs.rm(this.registry.dataDir, { recursive: true, force: true });
        await this.kube.stop();
    }

    /** Runs an engine command and keeps what it printed. */
    async record<T extends { stdout: string; stderr: string }>(r: Promise<T>): Promise<T> {
        const out = await r;
        this.printed += out.stdout + out.stderr;
        return out;
    }

    async namespaces(): Promise<string[]> {
        return (await this.api.list(KINDS[0])).map((n) => n.metadata.name).sort();
    }

    /** The objects this program made that are on the cluster now, as "<resource>/<namespace>/<name>". */
    async managedObjects(): Promise<string[]> {
        const out: string[] = [];
        for (const ref of KINDS) {
            for (const o of await this.api.list(ref, undefined, MANAGED)) out.push(`${ref.resource}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
        }
        return out.sort();
    }

    async allObjects(): Promise<KubeObjectJson[]> {
        return (await Promise.all(KINDS.map((k) => this.api.list(k)))).flat();
    }

    /** Secrets: not in the state file, not in any object but Secrets' data, not in what the engine printed. */
    async expectSecretsKept(secrets: string[]): Promise<void> {
        const all = [this.kube.token, ...secrets];
        const stateDir = path.join(this.stack.backendDir, ".pulumi");
        const stateFiles = (await fs.readdir(stateDir, { recursive: true })).filter((f) => f.endsWith(".json"));
        expect(stateFiles.some((f) => f.startsWith("stacks/"))).toBe(true);
        for (const f of stateFiles) {
            const state = await fs.readFile(path.join(stateDir, f), "utf8");
            for (const s of all) expect(state.includes(s), `a secret is in plaintext in ${f}`).toBe(false);
        }
        for (const o of await this.allObjects()) {
            const { data, stringData, ...rest } = o as KubeObjectJson & { data?: unknown; stringData?: unknown };
            const text = JSON.stringify(o.kind === "Secret" ? rest : o);
            for (const s of all) expect(text.includes(s), `a secret is in ${o.kind ?? "object"} ${o.metadata.namespace}/${o.metadata.name}`).toBe(false);
        }
        for (const s of all) expect(this.printed.includes(s), "a secret was printed").toBe(false);
    }

    /** After destroy: no object of the program's is left, and the namespaces are those the cluster had. */
    async expectNothingLeft(): Promise<void> {
        expect(await this.managedObjects()).toEqual([]);
        await waitUntil(async () => JSON.stringify(await this.namespaces()) === JSON.stringify(this.baseline), 120_000);
    }
}

/** The lines of a PEM or OpenSSH private key that only it has (state and logs would hold the key with escaped newlines). */
export function keyLines(privateKey: string, skipFirst = false): string[] {
    const lines = privateKey.split("\n").filter((l) => !l.startsWith("-----") && l.length >= 60);
    // Every unencrypted ed25519 OpenSSH key starts with the same line.
    return skipFirst ? lines.slice(1) : lines;
}
