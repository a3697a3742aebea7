// The local test cluster's pure parts: its kubeconfig and flags, and the CRDs it
// gets — one for every custom kind the ACP components render.
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { apiserverArgs, controllerManagerArgs, renderKubeconfig } from "../../scripts/services/kube";
import { crdManifests, structuralSchema } from "../support/kube-crds";
import { SCHEMA_SOURCES } from "../support/kube-schemas";

describe("local cluster service", () => {
    it("writes a kubeconfig with the server, the CA and the token", () => {
        const doc = parse(renderKubeconfig({ name: "t", server: "https://127.0.0.1:6443", caCert: "-----BEGIN CERTIFICATE-----\nx\n", token: "tok" }));
        expect(doc["current-context"]).toBe("t");
        expect(doc.clusters[0].cluster.server).toBe("https://127.0.0.1:6443");
        expect(Buffer.from(doc.clusters[0].cluster["certificate-authority-data"], "base64").toString()).toContain("BEGIN CERTIFICATE");
        expect(doc.users[0].user).toEqual({ token: "tok" });
    });

    it("listens on loopback only and keeps credentials off the command line", () => {
        const api = apiserverArgs({ dir: "/d", etcd: "http://127.0.0.1:2379", port: 6443 });
        expect(api).toContain("--bind-address=127.0.0.1");
        expect(api).toContain("--token-auth-file=/d/tokens.csv");
        const kcm = controllerManagerArgs({ dir: "/d" });
        expect(kcm).toContain("--kubeconfig=/d/controller-manager.kubeconfig");
        // Namespace deletion and garbage collection are what destroy needs from it.
        expect(kcm.find((a) => a.startsWith("--controllers="))).not.toMatch(/-namespace|-garbagecollector/);
    });
});

describe("CRDs of the test cluster", () => {
    const crds = crdManifests();
    const served = new Set(crds.flatMap((c) => c.spec.versions.filter((v: any) => v.served).map((v: any) => `${c.spec.group}/${v.name}/${c.spec.names.kind}`)));

    it("serve every custom kind the components render", () => {
        const builtIn = /^(v1|apps\/v1|rbac\.authorization\.k8s\.io\/v1)\//;
        const custom = Object.keys(SCHEMA_SOURCES).filter((k) => !builtIn.test(k));
        expect(custom.length).toBeGreaterThan(10);
        expect(custom.filter((k) => !served.has(k))).toEqual([]);
    });

    it("use no conversion webhook (the cluster runs none)", () => {
        expect(crds.filter((c) => c.spec.conversion?.strategy === "Webhook").map((c) => c.metadata.name)).toEqual([]);
    });

    it("turn OpenAPI definitions into structural schemas", () => {
        const defs = {
            "v1.Thing": {
                type: "object",
                required: ["spec"],
                properties: { spec: { $ref: "#/definitions/v1.Spec" }, metadata: { $ref: "#/definitions/k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta" } },
            },
            "v1.Spec": {
                type: "object",
                description: "dropped",
                properties: {
                    size: { $ref: "#/definitions/k8s.io.apimachinery.pkg.api.resource.Quantity" },
                    children: { type: "array", items: { $ref: "#/definitions/v1.Spec" } },
                    labels: { type: "object", additionalProperties: { type: "string" } },
                    mode: { type: "string", enum: ["a", "b"], format: "byte" },
                    anything: {},
                },
            },
        };
        expect(structuralSchema("v1.Thing", defs)).toEqual({
            type: "object",
            required: ["spec"],
            properties: {
                metadata: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                spec: {
                    type: "object",
                    properties: {
                        size: { "x-kubernetes-int-or-string": true },
                        // A type that contains itself is kept whole below the first level.
                        children: { type: "array", items: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
                        labels: { type: "object", additionalProperties: { type: "string" } },
                        mode: { type: "string", enum: ["a", "b"] },
                        anything: { "x-kubernetes-preserve-unknown-fields": true },
                    },
                },
            },
        });
    });

    it("make KubeVirt's VirtualMachine CRD from its upstream definition, closed where KubeVirt's is", () => {
        const vm = crds.find((c) => c.metadata.name === "virtualmachines.kubevirt.io")!;
        const schema = vm.spec.versions[0].schema.openAPIV3Schema;
        const domain = schema.properties.spec.properties.template.properties.spec.properties.domain;
        expect(Object.keys(domain.properties)).toEqual(expect.arrayContaining(["cpu", "memory", "devices", "resources"]));
        expect(schema.properties.spec.properties.runStrategy.type).toBe("string");
        expect(vm.spec.versions[0].subresources).toEqual({ status: {} });
    });
});
