// The acp section of the stack configuration and its secrets: the example
// stacks validate through the same parse function, and every mistake is a
// clear message naming its key.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ConfigError, loadSiteConfig, parseSiteConfig, type RawConfig } from "../../infra/config";
import { exampleStack, SECRETS, stackValues } from "../support/acp-fixtures";
import { resolve } from "../support/pulumi-mocks";

function problems(raw: RawConfig): string[] {
    try {
        parseSiteConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
    return [];
}

/** The hub stack with one value changed at a dotted path under image-factory:acp (or elsewhere). */
function hubWith(pathKeys: string[], value: unknown, secrets?: Partial<typeof SECRETS>): RawConfig {
    const raw = exampleStack("hub", secrets);
    let o: any = raw.values;
    for (const k of pathKeys.slice(0, -1)) o = o[k] ??= {};
    if (value === undefined) delete o[pathKeys.at(-1)!];
    else o[pathKeys.at(-1)!] = value;
    return raw;
}


/** What `npm run up` gives the local stack: its S3 server's generated credentials. */
const LOCAL_S3 = { s3AccessKey: pulumi.secret("local-access"), s3SecretKey: pulumi.secret("local-secret") };

describe("example stacks", () => {
    it("stacks/Pulumi.hub.yaml validates, with defaults filled in", () => {
        const c = parseSiteConfig(exampleStack("hub"));
        expect(c.site).toEqual({ name: "hub", role: "hub" });
        expect(c.acp!.operators).toEqual({
            virtualization: { channel: "stable", installPlanApproval: "Manual" },
            pipelines: { channel: "pipelines-1.18", installPlanApproval: "Manual" },
            gitops: { channel: "gitops-1.16", installPlanApproval: "Manual" },
        });
        expect(c.acp!.catalogSource).toEqual({ name: "redhat-operators", namespace: "openshift-marketplace" });
        expect(c.acp!.registry).toMatchObject({ mode: "deployment", storage: "500Gi", image: "docker.io/library/registry:2.8.3" });
        expect(c.acp!.builderVm).toMatchObject({ source: { dataSource: { namespace: "openshift-virtualization-os-images", name: "rhel9" } }, ephemeral: true, sshUser: "builder", service: { type: "LoadBalancer" } });
        expect(c.acp!.builderVm!.packages).toContain("osbuild-composer");
        expect(c.acp!.pipeline).toMatchObject({ testMode: "vm", git: { revision: "main" }, workspaceSize: "40Gi" });
        expect(c.acp!.vmTemplates).toMatchObject({ storage: "40Gi", cpu: 2 });
        expect(pulumi.Output.isInstance(c.kubeconfig)).toBe(true);
    });

    it("stacks/Pulumi.site-a.yaml validates: internal registry, hub mirror, pod tests", () => {
        const c = parseSiteConfig(exampleStack("site-a", { kubeconfig: SECRETS.kubeconfig, registryPassword: SECRETS.registryPassword, webhookSecret: SECRETS.webhookSecret }));
        expect(c.site.role).toBe("acp");
        expect(c.acp!.registry.mode).toBe("internal");
        expect(c.acp!.mirror).toEqual({ registry: "registry.hub.example.com", sources: ["quay.io", "registry.redhat.io", "docker.io"] });
        expect(c.acp!.pipeline!.toolImages.buildah).toBe("registry.hub.example.com/quay.io/buildah/stable:v1.38");
        expect(c.acp!.builderVm).toBeUndefined();
        expect(c.sshPrivateKey).toBeUndefined();
    });

    it("the example stacks hold no secret values", () => {
        for (const stack of ["hub", "site-a"]) {
            const keys = Object.keys(stackValues(stack));
            expect(keys).not.toContain("kubeconfig");
            expect(keys).not.toContain("registryPassword");
            expect(keys).not.toContain("sshPrivateKey");
        }
    });

    it("the local stack keeps its behaviour: no acp section, no kubeconfig", () => {
        const c = parseSiteConfig({ values: stackValues("local"), secrets: LOCAL_S3 });
        expect(c.site.role).toBe("local");
        expect(c.acp).toBeUndefined();
        expect(c.kubeconfig).toBeUndefined();
    });
});

describe("config errors name the key", () => {
    it("a missing kubeconfig for roles acp and hub", () => {
        expect(problems(exampleStack("hub", { ...SECRETS, kubeconfig: undefined }))).toEqual([
            "image-factory:kubeconfig: is required for role hub: the site cluster's kubeconfig (pulumi config set --secret kubeconfig < kubeconfig.yaml)",
        ]);
        expect(problems(exampleStack("site-a", { registryPassword: "x", webhookSecret: "w" }))).toEqual([
            "image-factory:kubeconfig: is required for role acp: the site cluster's kubeconfig (pulumi config set --secret kubeconfig < kubeconfig.yaml)",
        ]);
    });

    it("a missing webhook secret when the site runs the in-cluster pipeline", () => {
        expect(problems(exampleStack("site-a", { kubeconfig: SECRETS.kubeconfig, registryPassword: "x" }))).toEqual([
            "image-factory:webhookSecret: is required with acp.pipeline: its trigger accepts only push webhooks signed with it (pulumi config set --secret webhookSecret, value on stdin; give the git server the same secret)",
        ]);
    });

    it("an unknown role", () => {
        expect(problems(hubWith(["site", "role"], "edge"))).toEqual(['image-factory:site.role: must be one of "local", "acp", "hub", got "edge"']);
    });

    it("a bad operator channel, with the channels the package publishes", () => {
        expect(problems(hubWith(["acp", "operators", "pipelines", "channel"], "stabel"))).toEqual([
            'image-factory:acp.operators.pipelines.channel: must be "latest" or "pipelines-<major>.<minor>" (e.g. "pipelines-1.18") (a channel of openshift-pipelines-operator-rh), got "stabel"',
        ]);
        expect(problems(hubWith(["acp", "operators", "virtualization", "channel"], "4.16"))).toEqual([
            'image-factory:acp.operators.virtualization.channel: must be one of "stable", "candidate", "dev-preview" (a channel of kubevirt-hyperconverged), got "4.16"',
        ]);
        expect(problems(hubWith(["acp", "operators", "gitops", "channel"], "gitops-1"))).toHaveLength(1);
        expect(problems(hubWith(["acp", "operators", "gitops", "installPlanApproval"], "Never"))).toEqual([
            'image-factory:acp.operators.gitops.installPlanApproval: must be one of "Automatic", "Manual", got "Never"',
        ]);
    });

    it("how long up waits for operators, VMs and disks: 30 minutes unless set", () => {
        expect(parseSiteConfig(exampleStack("hub")).acp!.waitTimeoutSeconds).toBe(1800);
        expect(parseSiteConfig(hubWith(["acp", "waitTimeoutSeconds"], 60)).acp!.waitTimeoutSeconds).toBe(60);
        expect(problems(hubWith(["acp", "waitTimeoutSeconds"], "10m"))).toEqual(['image-factory:acp.waitTimeoutSeconds: must be a whole number from 10 to 86400, got "10m"']);
    });

    it("acp settings on a local site, and a kubeconfig there", () => {
        const raw: RawConfig = { values: { ...stackValues("local"), acp: {} }, secrets: { ...LOCAL_S3, kubeconfig: pulumi.secret("x") } };
        expect(problems(raw)).toEqual([
            "image-factory:acp: is only for roles acp and hub (this site's role is local)",
            "image-factory:kubeconfig: is only for roles acp and hub (this site's role is local)",
        ]);
    });

    it("settings that do not fit together", () => {
        expect(problems(hubWith(["acp", "mirror"], { registry: "registry.hub.example.com", sources: ["quay.io"] }))).toEqual([
            "image-factory:acp.mirror: is for disconnected sites (role acp): a hub is the mirror",
        ]);
        expect(problems(hubWith(["registry", "username"], undefined, { kubeconfig: "k", sshPrivateKey: "k", webhookSecret: "w" }))).toEqual([
            "image-factory:registry.username: is required with acp.registry.mode deployment (the registry Deployment serves with htpasswd credentials)",
        ]);
        expect(problems(exampleStack("hub", { kubeconfig: "k", registryPassword: "p", webhookSecret: "w" }))).toEqual([
            "image-factory:sshPrivateKey: is required with acp.builderVm: composes log in to the builder VM with it (pulumi config set --secret sshPrivateKey < id_ed25519)",
        ]);
        const noUser = exampleStack("site-a", { kubeconfig: "k", webhookSecret: "w" });
        delete (noUser.values.registry as any).username;
        expect(problems(noUser)).toEqual([
            "image-factory:registry.username: is required with acp.pipeline (the in-cluster pipeline pushes with registry.username and registryPassword)",
        ]);
        expect(problems(hubWith(["acp", "builderVm", "service"], { type: "NodePort" }))).toEqual([
            "image-factory:acp.builderVm.service.host: is required with service type NodePort: the address of a node composes reach",
        ]);
        expect(problems(hubWith(["registry", "url"], "registry.hub.example.com:5000"))).toEqual([
            'image-factory:registry.url: must be a host name without a port for role hub (the registry is served by an OpenShift Route), got "registry.hub.example.com:5000"',
        ]);
    });

    it("bad values, all reported at once", () => {
        const raw = exampleStack("hub");
        const acp = raw.values.acp as any;
        acp.registry.mode = "quay";
        acp.builderVm.cpu = 0;
        acp.builderVm.memory = "16 GB";
        acp.builderVm.sshPublicKey = "not a key";
        acp.builderVm.source = { registry: "quay.io/containerdisks/fedora", http: "https://x" };
        acp.pipeline.testMode = "qemu";
        acp.pipeline.git.url = "ftp://git.example.com/x";
        acp.pipeline.toolImages = { buildah: "buildah" };
        acp.vmTemplates.colour = "blue";
        expect(problems(raw).sort()).toEqual([
            'image-factory:acp.registry.mode: must be one of "internal", "deployment", got "quay"',
            "image-factory:acp.builderVm.source: needs exactly one of registry, http, dataSource",
            'image-factory:acp.builderVm.source.registry: must be "docker://<image>" (a container disk), got "quay.io/containerdisks/fedora"',
            'image-factory:acp.builderVm.sshPublicKey: must be an OpenSSH public key line (ssh-ed25519 AAAA…), got "not a key"',
            "image-factory:acp.builderVm.cpu: must be a whole number from 1 to 128, got 0",
            'image-factory:acp.builderVm.memory: must be a Kubernetes quantity such as "8Gi", got "16 GB"',
            'image-factory:acp.pipeline.git.url: must be an https://, ssh:// or git@ URL of the image definitions repository, got "ftp://git.example.com/x"',
            'image-factory:acp.pipeline.testMode: must be one of "pod", "vm", got "qemu"',
            'image-factory:acp.pipeline.toolImages.buildah: must be an image reference host/repository[:tag][@digest], got "buildah"',
            "image-factory:acp.vmTemplates.colour: unknown key (expected one of: images, storage, storageClass, cpu, memory)",
        ].sort());
    });
});

describe("loadSiteConfig", () => {
    it("reads the acp section and the kubeconfig and SSH key as secrets", async () => {
        const values = stackValues("hub");
        const config: Record<string, string> = Object.fromEntries(Object.entries(values).map(([k, v]) => [`image-factory:${k}`, JSON.stringify(v)]));
        config["image-factory:kubeconfig"] = SECRETS.kubeconfig;
        config["image-factory:registryPassword"] = SECRETS.registryPassword;
        config["image-factory:sshPrivateKey"] = SECRETS.sshPrivateKey;
        config["image-factory:webhookSecret"] = SECRETS.webhookSecret;
        // The example's fleet key (signing.publicKey) wants its private half.
        config["image-factory:signingKey"] = "test-signing-key-SECRET";
        pulumi.runtime.setAllConfig(config, ["image-factory:kubeconfig", "image-factory:registryPassword", "image-factory:sshPrivateKey", "image-factory:webhookSecret", "image-factory:signingKey"]);
        const c = loadSiteConfig();
        expect(c.acp!.pipeline!.git.url).toBe("https://git.example.com/platform/image-factory.git");
        expect(await resolve(c.kubeconfig!)).toEqual({ value: SECRETS.kubeconfig, secret: true });
        expect(await resolve(c.sshPrivateKey!)).toEqual({ value: SECRETS.sshPrivateKey, secret: true });
        expect(await resolve(c.webhookSecret!)).toEqual({ value: SECRETS.webhookSecret, secret: true });
        expect(c.signing?.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
        expect(await resolve(c.signing!.key!)).toEqual({ value: "test-signing-key-SECRET", secret: true });
    });
});
