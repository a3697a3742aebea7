import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ConfigError, parseSiteConfig, type RawConfig } from "../../infra/config";

const base = { site: { name: "site-a", role: "local" }, registry: { url: "registry.site-a.example.com" } };
const parse = (values: Record<string, unknown>, secrets: RawConfig["secrets"] = {}) => parseSiteConfig({ values, secrets });
const problems = (values: Record<string, unknown>, secrets: RawConfig["secrets"] = {}): string[] => {
    try {
        parse(values, secrets);
        return [];
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
};

describe("stack configuration", () => {
    it("applies defaults", () => {
        const c = parse(base);
        expect(c.registry.namespace).toBe("site-a");
        expect(c.images).toEqual({ catalog: "images", select: undefined, channel: undefined, pins: {}, customizations: {} });
        expect(c.builder.kind).toBe("local");
        expect(c.hub).toBeUndefined();
        expect(c.boot).toEqual({ enabled: true, dir: undefined, format: "qcow2", diskSize: "2GiB", timeoutSeconds: 900, memoryMiB: 1024, accel: "auto" });
    });

    it.each([
        ["a missing site", { registry: base.registry }, "image-factory:site: is required"],
        ["an unknown role", { ...base, site: { name: "a", role: "edge" } }, 'image-factory:site.role: must be one of "local", "acp", "hub", got "edge"'],
        ["a site name that is not a DNS label", { ...base, site: { name: "Site A", role: "local" } }, 'image-factory:site.name: must be a DNS label (a-z, 0-9, -), got "Site A"'],
        ["a registry URL with a scheme", { ...base, registry: { url: "https://r.example.com" } }, 'image-factory:registry.url: must be host[:port] without a scheme, got "https://r.example.com"'],
        ["an unknown top-level key", { ...base, registy: {} }, "image-factory:registy: unknown key"],
        ["an unknown nested key", { ...base, images: { chanel: "stable" } }, "image-factory:images.chanel: unknown key"],
        ["latest as a channel", { ...base, images: { channel: "latest" } }, 'image-factory:images.channel: "latest" is always moved'],
        ["a pin that is neither a version nor a digest", { ...base, images: { pins: { homepage: "sha256:xyz" } } }, 'image-factory:images.pins.homepage: must be a version or a sha256 digest, got "sha256:xyz"'],
        ["a customization file mode that is not octal", { ...base, images: { customizations: { httpd: { files: [{ path: "/x", content: "y", mode: "644x" }] } } } }, "image-factory:images.customizations.httpd.files[0].mode: must be an octal mode"],
        ["a registry user without a password", { ...base, registry: { ...base.registry, username: "bot" } }, "image-factory:registryPassword: is required when registry.username is set"],
        ["a hub that is not org/project/stack", { ...base, hub: { stack: "hub" } }, 'image-factory:hub.stack: must be organization/project/stack, got "hub"'],
        ["pins on a mirroring site", { ...base, hub: { stack: "o/p/hub" }, images: { pins: { base: "1.0" } } }, "image-factory:images.pins: a site that mirrors a hub releases the hub's tags; pin on the hub"],
        ["customizations on a mirroring site", { ...base, hub: { stack: "o/p/hub" }, images: { customizations: { base: { packages: ["vim"] } } } }, "image-factory:images.customizations: a site that mirrors a hub hosts the hub's images as built"],
        ["a boot time limit out of range", { ...base, boot: { timeoutSeconds: 5 } }, "image-factory:boot.timeoutSeconds: must be a whole number from 30 to 7200, got 5"],
        ["an unknown VM disk format", { ...base, boot: { format: "vmdk" } }, 'image-factory:boot.format: must be one of "raw", "qcow2", got "vmdk"'],
        ["a VM disk size without a unit", { ...base, boot: { diskSize: "2048" } }, 'image-factory:boot.diskSize: must be a size in MiB or GiB, such as "2GiB", got "2048"'],
        ["an unknown accelerator", { ...base, boot: { accel: "hvf" } }, 'image-factory:boot.accel: must be one of "auto", "kvm", "tcg", got "hvf"'],
        ["boot.enabled as a string", { ...base, boot: { enabled: "no" } }, 'image-factory:boot.enabled: must be true or false, got "no"'],
    ])("reports %s, naming the key", (_what, values, expected) => {
        expect(problems(values).join("\n")).toContain(expected);
    });

    it("reports every problem at once", () => {
        expect(problems({ site: { name: "A" }, registry: { url: "http://x" }, extra: 1 })).toHaveLength(4);
    });

    it("keeps the registry password a secret", async () => {
        const c = parse({ ...base, registry: { ...base.registry, username: "bot" } }, { registryPassword: pulumi.secret("pw") });
        expect(await pulumi.isSecret(c.registry.password!)).toBe(true);
    });

    it("reads a hub", () => {
        expect(parse({ ...base, hub: { stack: "acme/image-factory/hub" } }).hub).toEqual({ stack: "acme/image-factory/hub", username: undefined, password: undefined });
    });
});
