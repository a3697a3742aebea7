// Sample inputs for the ACP renderers and components: a small catalog as the
// catalog renders it (a base image and a tree of service images), released
// disks, and the example stacks' configuration.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { PipelineImage } from "../../components/acp/render/pipeline";
import type { ReleasedDisk } from "../../components/acp/render/vm-templates";
import { NAMESPACE, type RawConfig } from "../../infra/config";

const hash = (seed: string) => `sha256:${Buffer.from(seed.padEnd(32, "."), "utf8").toString("hex").slice(0, 64)}`;

export const CATALOG: PipelineImage[] = [
    {
        name: "edge-httpd",
        version: "1.2.0",
        parent: "edge-base",
        definitionHash: hash("edge-httpd"),
        containerfile: 'ARG PARENT_IMAGE\nFROM ${PARENT_IMAGE}\nRUN dnf -y install httpd && systemctl enable httpd\nLABEL quote="it\'s $(not) run"\n',
        tests: [{ name: "httpd", run: "systemctl is-enabled httpd" }],
        testScript: "systemctl is-enabled httpd\n",
    },
    {
        name: "edge-base",
        version: "9.6.0",
        parent: null,
        definitionHash: hash("edge-base"),
        containerfile: "FROM quay.io/centos-bootc/centos-bootc:stream9\nRUN dnf -y install tmux && dnf clean all\n",
        tests: [],
    },
    {
        name: "edge-db",
        version: "1.0.0",
        parent: "edge-base",
        definitionHash: hash("edge-db"),
        containerfile: "ARG PARENT_IMAGE\nFROM ${PARENT_IMAGE}\nRUN dnf -y install mariadb-server\n",
        tests: [{ name: "db", run: "rpm -q mariadb-server" }],
        testScript: "rpm -q mariadb-server\n",
    },
];

export const CATALOG_FILES = [
    { path: "edge-base.yaml", content: "name: edge-base\nversion: 9.6.0\n" },
    { path: "edge-httpd.yaml", content: "name: edge-httpd\nparent: edge-base\n" },
    { path: "edge-db.yaml", content: "name: edge-db\nparent: edge-base\n" },
    { path: "files/index.html", content: "<h1>hello</h1>\n" },
];

export const DISKS: ReleasedDisk[] = [
    { name: "edge-httpd", version: "1.2.0", diskRef: `registry.hub.example.com/hub/edge-httpd-disk@sha256:${"a".repeat(64)}` },
    { name: "edge-db", version: "1.0.0", diskRef: `registry.hub.example.com/hub/edge-db-disk@sha256:${"b".repeat(64)}` },
];

/** Placeholder secret values the tests use; real stacks set them with `pulumi config set --secret`. */
export const SECRETS = {
    kubeconfig: "apiVersion: v1\nkind: Config\nclusters: []\n# test-kubeconfig-SECRET\n",
    registryPassword: "test-registry-password-SECRET",
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest-ssh-key-SECRET\n-----END OPENSSH PRIVATE KEY-----\n",
    webhookSecret: "test-webhook-secret-SECRET",
};

/** A stack file's image-factory values, keyed without the namespace (as loadSiteConfig passes them). */
export function stackValues(stack: string): Record<string, unknown> {
    const file = path.resolve(__dirname, "../../stacks", `Pulumi.${stack}.yaml`);
    const doc = parse(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(
        Object.entries(doc.config)
            .filter(([k]) => k.startsWith(`${NAMESPACE}:`))
            .map(([k, v]) => [k.slice(NAMESPACE.length + 1), v]),
    );
}

/** The raw configuration of an example stack, with the placeholder secrets its README section names. */
export function exampleStack(stack: string, secrets: Partial<Record<keyof typeof SECRETS, string | undefined>> = SECRETS): RawConfig {
    const values = stackValues(stack);
    // A stack with a fleet key gets its private half as the secret signingKey.
    const all: Record<string, string | undefined> = { ...secrets, ...(values.signing ? { signingKey: "test-signing-key-SECRET" } : {}) };
    return {
        values,
        secrets: Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined).map(([k, v]) => [k, pulumi.secret(v!)])),
    };
}
