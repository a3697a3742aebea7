// Role acp on the real engine against a real Kubernetes API server: the example
// stack stacks/Pulumi.site-a.yaml — an ACP at a disconnected edge site, its
// images built from the catalog into the cluster's internal registry (exposed
// by a Route), pulls from public registries sent to the hub by an
// ImageDigestMirrorSet, and the in-cluster pipeline (pod-mode tests) that
// rebuilds on a push. Only what points outside this machine is replaced: the
// cluster, the registry (a real one on a loopback address, port 80), the fleet
// key. The operators and node agents the cluster does not run are the
// stand-in's (test/support/kube-standin.ts).
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../components/registry/client";
import { generateSigningKey } from "../../components/supply-chain/sigstore";
import { StandInController } from "../support/kube-standin";
import { AcpSite, changes, keyLines } from "./acp-harness";

const REGISTRY_PASSWORD = "e2e-site-a-registry-password-7c1e04";
const WEBHOOK_SECRET = "e2e-site-a-webhook-secret-2b9d63";
const FLEET = generateSigningKey();
/** Site A's registry (the Route's host): a loopback address of its own, on port 80. */
const REGISTRY_HOST = "127.0.80.2";
const SELECT = ["base", "httpd"];
const NS = "image-factory";

describe("role acp against a real API server: stacks/Pulumi.site-a.yaml", () => {
    let site: AcpSite;
    let standIn: StandInController;
    const secrets = () => [REGISTRY_PASSWORD, WEBHOOK_SECRET, ...keyLines(FLEET.privateKey)];
    const get = (p: string) => site.api.get(p);
    const pipelineRuns = () => site.api.list({ apiVersion: "tekton.dev/v1", resource: "pipelineruns", namespaced: true }, NS);

    beforeAll(async () => {
        site = await AcpSite.start("site-a", REGISTRY_HOST, (set) => {
            set("registry.url", REGISTRY_HOST);
            // Two images, parent and child; the boot gate has its own tests (boot.test.ts, acp.test.ts).
            set("images.select", SELECT);
            set("boot.enabled", false);
            set("acp.waitTimeoutSeconds", 45);
            set("signing.publicKey", FLEET.publicKey);
        });
        await site.stack.setSecret("image-factory:registryPassword", REGISTRY_PASSWORD);
        await site.stack.setSecret("image-factory:webhookSecret", WEBHOOK_SECRET);
        await site.stack.setSecret("image-factory:signingKey", FLEET.privateKey);
        standIn = new StandInController(site.api, { log: (l) => process.env.E2E_VERBOSE && console.log(`  ${l}`) }).start();
    });
    afterAll(async () => {
        await standIn?.stop();
        await site?.stop();
    });

    it("preview plans the operators, the internal registry's Route, the hub mirror and the pipeline; no builder VM, no VM template", async () => {
        const steps = changes((await site.record(site.stack.preview(["--json"]))).stdout);
        expect(steps).toEqual(
            expect.arrayContaining([
                `create kubernetes:core/v1:Namespace::namespace-${NS}`,
                "create kubernetes:operators.coreos.com/v1alpha1:Subscription::subscription-openshift-cnv-kubevirt-hyperconverged",
                "create kubernetes:route.openshift.io/v1:Route::route-openshift-image-registry-registry-site-a",
                "create kubernetes:config.openshift.io/v1:ImageDigestMirrorSet::imagedigestmirrorset-image-factory-site-a-hub-mirror",
                `create kubernetes:tekton.dev/v1:Pipeline::pipeline-${NS}-image-factory-site-a`,
                "create pulumi-nodejs:dynamic/image-factory:ImageBuild::httpd",
                "create pulumi-nodejs:dynamic/image-factory:ImageRelease::httpd",
            ]),
        );
        expect(steps.filter((s) => /:VirtualMachine::|:DataVolume::|template.openshift.io|command:remote/.test(s))).toEqual([]);
    });

    it("up converges: images built, signed and released into the site's registry; the cluster's objects are what the example says", async () => {
        const started = Date.now();
        await site.record(site.stack.up());
        console.log(`  site-a up in ${((Date.now() - started) / 1000).toFixed(0)}s`);
        expect(standIn.errors).toEqual([]);

        const { images, registry } = await site.stack.outputs();
        expect(registry.url).toBe(REGISTRY_HOST);
        const client = new RegistryClient(REGISTRY_HOST);
        for (const name of SELECT) {
            expect(images[name].ref).toBe(`${REGISTRY_HOST}/site-a/${name}@${images[name].digest}`);
            // The example's channel is canary.
            for (const tag of ["1.0.0", "latest", "canary"]) expect(await client.resolve(`site-a/${name}`, tag)).toBe(images[name].digest);
            expect(images[name].signature.digest).toMatch(/^sha256:/);
        }

        // The internal registry, exposed at the registry's host; the pipeline's service account may push to the site's project.
        const route = await get("/apis/route.openshift.io/v1/namespaces/openshift-image-registry/routes/registry-site-a");
        expect(route.spec).toMatchObject({ host: REGISTRY_HOST, to: { kind: "Service", name: "image-registry" } });
        const binding = await get(`/apis/rbac.authorization.k8s.io/v1/namespaces/site-a/rolebindings/image-builder-${NS}-image-factory-pipeline`);
        expect(binding).toMatchObject({ roleRef: { kind: "ClusterRole", name: "system:image-builder" } });
        // Pulls from the public registries go to the hub, never to the source.
        const mirrors = await get("/apis/config.openshift.io/v1/imagedigestmirrorsets/image-factory-site-a-hub-mirror");
        expect(mirrors.spec.imageDigestMirrors).toEqual(
            ["quay.io", "registry.redhat.io", "docker.io"].map((source) => ({ source, mirrors: [`registry.hub.example.com/${source}`], mirrorSourcePolicy: "NeverContactSource" })),
        );
        // One pipeline run for the catalog as rendered, with the example's git revision and pod-mode tests.
        const runs = await pipelineRuns();
        expect(runs).toHaveLength(1);
        const params = Object.fromEntries(runs[0].spec.params.map((p: { name: string; value: unknown }) => [p.name, p.value]));
        expect(params).toMatchObject({ revision: "site-a" });
        expect(JSON.stringify(runs[0].spec)).toContain("git.example.com/platform/image-factory.git");
    });

    it("a second up changes nothing", async () => {
        await site.record(site.stack.preview(["--expect-no-changes"]));
    });

    it("a change to httpd rebuilds httpd only, and plans one new pipeline run", async () => {
        const before = (await site.stack.outputs()).images;
        const file = path.join(site.stack.dir, "images/httpd.yaml");
        await fs.writeFile(file, (await fs.readFile(file, "utf8")).replace("It works.", "It works (site-a change)."));
        const steps = changes((await site.record(site.stack.preview(["--json"]))).stdout).map((s) => s.replace(/-[0-9a-f]{12}$/, "-<digest>"));
        expect(steps.filter((s) => /::base$/.test(s))).toEqual([]);
        expect(steps).toEqual(
            expect.arrayContaining([
                "update pulumi-nodejs:dynamic/image-factory:ImageBuild::httpd",
                "update pulumi-nodejs:dynamic/image-factory:ImageRelease::httpd",
                `update kubernetes:tekton.dev/v1:Pipeline::pipeline-${NS}-image-factory-site-a`,
                `create kubernetes:tekton.dev/v1:PipelineRun::pipelinerun-${NS}-image-factory-site-a-<digest>`,
            ]),
        );
        await site.record(site.stack.up());
        const after = (await site.stack.outputs()).images;
        expect(after.base.digest).toBe(before.base.digest);
        expect(after.httpd.digest).not.toBe(before.httpd.digest);
        // The superseded run stays on the cluster (retainOnDelete: the build history).
        expect(await pipelineRuns()).toHaveLength(2);
    });

    it("secrets stay secret in state, objects and output", async () => {
        await site.expectSecretsKept(secrets());
    });

    it("destroy leaves no object behind", async () => {
        await site.record(site.stack.destroy());
        await site.expectNothingLeft();
        await site.expectSecretsKept(secrets());
    });
});
