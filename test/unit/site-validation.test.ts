// Bad input is reported before anything is registered: deploySite checks the
// catalog, the selection, customizations and every image name the config hands
// on (boot artifacts, pre-staged disk content) before its first resource.
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../../infra/config";
import { vmDiskPrefix } from "../../infra/artifacts";
import { deploySite } from "../../infra/site";

async function registeredBy(fn: () => unknown): Promise<{ error: string; registered: string[]; inputs: Map<string, Record<string, any>> }> {
    const registered: string[] = [];
    const inputs = new Map<string, Record<string, any>>();
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered.push(`${args.type}:${args.name}`);
                inputs.set(args.name, args.inputs);
                // An image test reports its results, a boot test its result; every other output echoes the inputs.
                const booted = args.type.endsWith(":BootTest")
                    ? { result: { targetReached: true, target: "multi-user.target", state: "running", failedUnits: [], seconds: 1, guestSeconds: 1, accel: "tcg", probes: [] } }
                    : {};
                return { id: `${args.name}-id`, state: { ...args.inputs, results: args.inputs.results ?? [], ...booted } };
            },
            call: (args) => {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "image-factory",
        "test",
        false,
    );
    let error = "";
    try {
        fn();
    } catch (e) {
        error = (e as Error).message;
    }
    await (settings as any).waitForRPCs();
    return { error, registered, inputs };
}

const base = { site: { name: "local", role: "local" }, registry: { url: "127.0.0.1:5000", namespace: "demo" } };
const s3 = { s3AccessKey: pulumi.secret("a"), s3SecretKey: pulumi.secret("s") };
const artifacts = { kind: "s3-api", endpoint: "http://127.0.0.1:7070" };

describe("deploySite on bad input", () => {
    it.each([
        ["an unknown boot artifact image", { artifacts: { ...artifacts, bootArtifacts: ["nope"] } }, /artifacts\.bootArtifacts: "nope" is not a selected catalog image/],
        [
            "an unknown image in a disk's content set",
            { artifacts, prestage: { disks: { d: { size: "1GiB", contentSets: { s: ["nope"] } } } } },
            /prestage\.disks\.d\.contentSets\.s\[0\]: "nope" is not a selected catalog image/,
        ],
        [
            "a rollout pin of an unknown image",
            { artifacts, rollout: { groups: [{ name: "canary", sites: ["o/p/a"], pins: { nope: `sha256:${"a".repeat(64)}` } }] } },
            /rollout\.groups\[0\]\.pins\.nope: "nope" is not a selected catalog image/,
        ],
        ["an unknown selected image", { artifacts, images: { select: ["nope"] } }, /images\.select: "nope" is not in the catalog/],
        ["a customization of an unknown image", { artifacts, images: { customizations: { nope: { packages: ["vim"] } } } }, /images\.customizations\.nope: "nope" is not in the catalog/],
        ["a customization file outside the catalog", { artifacts, images: { customizations: { httpd: { files: [{ path: "/x", source: "../README.md" }] } } } }, /must stay inside the catalog folder/],
    ])("%s: a clear error and no resource", async (_what, values, expected) => {
        const config = parseSiteConfig({ values: { ...base, ...values }, secrets: s3 });
        const { error, registered } = await registeredBy(() => deploySite(config));
        expect(error).toMatch(expected);
        expect(registered).toEqual([]);
    });
});

describe("deploySite on good input", () => {
    it("publishes each built image's recipes: the kiwi description and, beside it, the osbuild blueprint", async () => {
        const config = parseSiteConfig({ values: { ...base, artifacts }, secrets: s3 });
        const { error, inputs } = await registeredBy(() => deploySite(config));
        expect(error).toBe("");
        const recipe = inputs.get("recipe-homepage");
        expect(recipe?.key).toBe("homepage/recipe.tgz");
        const files = recipe?.source.files as Record<string, string>;
        expect(Object.keys(files)).toEqual(expect.arrayContaining(["config.xml", "config.sh", "blueprint.toml"]));
        const blueprint = Buffer.from(files["blueprint.toml"], "base64").toString("utf8");
        // The lineage flattened: homepage's own name, its parents' packages.
        expect(blueprint).toMatch(/^name = "homepage"$/m);
        expect(blueprint).toMatch(/^name = "apache2"$/m);
    });
});

describe("the boot-images bucket", () => {
    it("keeps an image's VM disk set apart from its boot artifact set (one owner per key)", () => {
        // BootArtifacts writes kernel, initrd, rootfs and manifest.json directly under <image>/<digest>/.
        const bootArtifactKeys = ["kernel", "initrd", "rootfs", "manifest.json"].map((f) => `edge-node/sha256:0a/${f}`);
        const vmKeys = ["disk.qcow2", "kernel", "initrd", "manifest.json"].map((f) => `${vmDiskPrefix("edge-node", "sha256:0a")}${f}`);
        expect(vmKeys.filter((k) => bootArtifactKeys.includes(k))).toEqual([]);
        expect(vmDiskPrefix("edge-node", "sha256:0a")).toBe("edge-node/sha256:0a/vm/");
    });
});
