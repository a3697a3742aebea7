// VM templates from the site's own booted disks (roles acp and hub), under Pulumi
// mocks: deploySite pushes each booted disk of a templated image as a container
// disk only after its boot test (and signing), and the ACP's DataVolume, DataSource
// and Template take that container disk by digest; without a boot there is no
// container disk and no template; a template of an image that is not booted is an
// error naming its key before anything is registered. And the container disk's tar
// headers (ustar; base-256 sizes from 8 GiB), which GNU tar reads in the providers tier.
// And composes: the images of acp.builderVm.composes are built on the builder VM over
// SSH, on their tested parent, and the ephemeral builder is released after them.
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { describe, expect, it } from "vitest";
import { loadCatalog, selectImages } from "../../components/images/catalog";
import { resolveImages } from "../../components/images/definition";
import { diskEntry, tarHeader } from "../../components/images/container-disk.provider";
import { ImagePipeline } from "../../components/images/pipeline";
import { parseSiteConfig } from "../../infra/config";
import { deploySite } from "../../infra/site";
import { exampleStack } from "../support/acp-fixtures";
import { validateObject } from "../support/kube-schemas";
import { composeOutput, resolve, unwrapSecrets } from "../support/pulumi-mocks";

const ROOT = path.resolve(__dirname, "../..");
/** The catalog's `select`ed images with their ancestors, resolved as the site resolves them. */
const catalogImages = (select: string[]) => {
    const catalog = loadCatalog(path.join(ROOT, "images"));
    return resolveImages(catalog, selectImages(catalog, select, "select"));
};
const digestOf = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

interface Registered {
    /** "<Type>:<name>", the type without its package. */
    key: string;
    inputs: Record<string, any>;
    dependsOn: string[];
}

/** What the pipeline's providers report once they ran (the digest that passed each gate, the disk's file). */
function outputsOf(type: string, i: Record<string, any>): Record<string, any> {
    const kind = type.split(":").pop();
    const digest = i.ref?.split("@")[1];
    switch (kind) {
        case "ImageBuild": {
            const d = digestOf(`${i.name}|${i.definitionHash}|${i.parentRef}`);
            return { ...i, digest: d, ref: `${i.registry}/${i.repository}@${d}`, history: [{ version: i.version, digest: d, definitionHash: i.definitionHash, builtAt: "" }] };
        }
        case "ImageTest":
            return { ...i, digest, results: [] };
        case "VmDisk": {
            const file = (ext: string) => ({ path: `${i.dir}/${i.image}-${digest.slice(7, 19)}.${ext}`, sha256: digestOf(`${i.ref}${ext}`).slice(7), size: 1 });
            return {
                ...i,
                digest,
                path: file(i.format).path,
                sha256: file(i.format).sha256,
                fileSize: 1,
                virtualSize: 2 ** 31,
                kernel: file("vmlinuz"),
                initrd: file("initrd"),
                manifest: file("json"),
                serialLog: file("log").path,
            };
        }
        case "BootTest":
            return { ...i, digest, result: { targetReached: true, target: "multi-user.target", state: "running", failedUnits: [], seconds: 1, guestSeconds: 1, accel: "tcg", probes: [] } };
        case "ImageSign": {
            const att = { ref: `${i.registry}/${i.repository}:x.att`, digest: digestOf("att") };
            return {
                ...i,
                ref: `${i.registry}/${i.repository}@${i.digest}`,
                signature: { ref: "s", digest: digestOf("sig") },
                attestations: att,
                sbom: { format: "spdx", predicateType: "p", packages: 1, sha256: "0" },
            };
        }
        case "ImageRelease":
            return { ...i, ref: `${i.registry}/${i.repository}@${i.digest}`, previous: {} };
        case "ContainerDisk": {
            const d = digestOf(`container disk of ${i.sha256}`);
            return { ...i, digest: d, ref: `${i.registry}/${i.repository}@${d}`, layer: { digest: digestOf(i.sha256), size: 1 } };
        }
        case "Command": {
            // A compose reports what it pushed; not known in a preview, as its input is not.
            const stdout = composeOutput(i.stdin);
            return stdout === undefined ? i : { ...i, stdout };
        }
        default:
            return i;
    }
}

/** Runs `fn` under mocks (any invoke throws); records each resource as "<Type>:<name>" with its inputs and, below `parent`, its dependencies. */
async function registered<T>(fn: (parent: pulumi.ComponentResource) => T, preview = false): Promise<{ result: T | undefined; error: string; resources: Map<string, Registered> }> {
    const resources = new Map<string, Registered>();
    const keys = new WeakMap<pulumi.Resource, string>();
    const deps = new Map<string, pulumi.Resource[]>();
    const keyOf = (type: string, name: string) => `${type.split(":").pop()}:${name}`;
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                resources.set(keyOf(args.type, args.name), { key: keyOf(args.type, args.name), inputs: args.inputs, dependsOn: [] });
                // In a preview, what a dynamic provider computes is not known yet.
                if (preview && args.type.startsWith("pulumi-nodejs:dynamic/")) return { id: undefined, state: args.inputs };
                return { id: `${args.name}-id`, state: outputsOf(args.type, args.inputs) };
            },
            call(args) {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "image-factory",
        "hub",
        preview,
    );
    const parent = new pulumi.ComponentResource(
        "test:index:Root",
        "root",
        {},
        {
            transformations: [
                (args) => {
                    keys.set(args.resource, keyOf(args.type, args.name));
                    const d = args.opts.dependsOn;
                    deps.set(keyOf(args.type, args.name), Array.isArray(d) ? (d as pulumi.Resource[]) : d ? [d as pulumi.Resource] : []);
                    return undefined;
                },
            ],
        },
    );
    let result: T | undefined;
    let error = "";
    try {
        result = fn(parent);
    } catch (e) {
        error = (e as Error).message;
    }
    await (settings as any).waitForRPCs();
    for (const [key, d] of deps) {
        const r = resources.get(key);
        if (r) r.dependsOn = d.map((x) => keys.get(x) ?? "?");
    }
    return { result, error, resources };
}

/** The example hub, building `select`, with `values` on top of its own. */
function hub(select: string[], values: Record<string, unknown> = {}) {
    const raw = exampleStack("hub");
    const acp = raw.values.acp as Record<string, any>;
    return parseSiteConfig({ ...raw, values: { ...raw.values, images: { ...(raw.values.images as object), select }, ...values, acp: { ...acp, ...((values.acp as object) ?? {}) } } });
}

const deploy = (config: ReturnType<typeof hub>) => registered(() => deploySite(config));
const named = (resources: Map<string, Registered>, kind: string) => [...resources.keys()].filter((k) => k.startsWith(`${kind}:`)).map((k) => k.slice(kind.length + 1));

describe("the pipeline pushes a container disk of each booted disk", () => {
    it("after the boot test, and after the signature when it signs; never for an image without a boot gate", async () => {
        const images = catalogImages(["httpd"]);
        const boot = { dir: "/var/lib/vm-disks", format: "qcow2" as const, size: "2GiB", timeoutSeconds: 900, memoryMiB: 1024, accel: "auto" as const };
        const args = { images, registry: "registry.hub.example.com", namespace: "hub", pins: {}, storage: "/s", cacheDir: "/c", containerDisks: ["base", "httpd"] };
        for (const signing of [undefined, { key: pulumi.secret("k"), publicKey: "PEM", commit: "c" }]) {
            const { resources, error } = await registered((parent) => new ImagePipeline("images", { ...args, boot, signing }, { parent }));
            expect(error).toBe("");
            expect(named(resources, "ContainerDisk")).toEqual(["base", "httpd"]);
            for (const image of ["base", "httpd"]) {
                const cd = resources.get(`ContainerDisk:${image}`)!;
                const disk = resources.get(`VmDisk:${image}`)!;
                expect(cd.dependsOn).toEqual([signing ? `ImageSign:${image}` : `BootTest:${image}`]);
                const made = outputsOf("VmDisk", disk.inputs);
                const { __provider, ...inputs } = cd.inputs;
                expect(inputs).toEqual({ image, version: "1.0.0", registry: "registry.hub.example.com", repository: `hub/${image}-disk`, path: made.path, format: "qcow2", sha256: made.sha256 });
            }
        }
        // Without the boot gate there is no booted disk to push.
        const { resources } = await registered((parent) => new ImagePipeline("images", args, { parent }));
        expect(named(resources, "ContainerDisk")).toEqual([]);
    });

    it("refuses a container disk repository that is another catalog image's", async () => {
        const images = catalogImages(["httpd"]);
        const clash = new Map([...images, ["base-disk", images.get("httpd")!]]);
        const { error, resources } = await registered(
            (parent) => new ImagePipeline("images", { images: clash, registry: "r.example", namespace: "hub", pins: {}, storage: "/s", cacheDir: "/c", containerDisks: ["base"] }, { parent }),
        );
        expect(error).toContain('base: its container disk goes to r.example/hub/base-disk, which is the repository of catalog image "base-disk"');
        expect([...resources.keys()].filter((k) => !k.startsWith("Root:") && !k.startsWith("ImagePipeline:"))).toEqual([]);
    });
});

describe("VM templates on the hub, from its booted disks", async () => {
    const { result, resources, error } = await deploy(hub(["httpd"]));

    it("a DataVolume, DataSource and Template per booted image, importing its container disk by digest", async () => {
        expect(error).toBe("");
        expect(named(resources, "ContainerDisk")).toEqual(["base", "httpd"]);
        const templates = (await resolve(pulumi.output(result!.vmTemplates!))).value as Record<string, any>;
        expect(Object.keys(templates).sort()).toEqual(["base", "httpd"]);
        for (const image of ["base", "httpd"]) {
            const ref = outputsOf("ContainerDisk", resources.get(`ContainerDisk:${image}`)!.inputs).ref;
            expect(templates[image]).toEqual({ namespace: "image-factory", template: image, dataSource: image, dataVolume: `${image}-1-0-0`, version: "1.0.0", disk: ref });
            const dv = resources.get(`DataVolume:datavolume-image-factory-${image}-1-0-0`)!;
            expect(dv.inputs.spec.source.registry).toEqual({ url: `docker://${ref}`, pullMethod: "pod", secretRef: "image-factory-registry-cdi" });
            expect(resources.get(`DataSource:datasource-image-factory-${image}`)!.inputs.spec.source.pvc.name).toBe(`${image}-1-0-0`);
            const template = resources.get(`Template:template-image-factory-${image}`)!;
            expect(template.inputs.metadata.annotations["image-factory/disk"]).toBe(ref);
            for (const o of [dv, template]) expect(validateObject(unwrapSecrets(o.inputs))).toEqual([]);
        }
    });
});

describe("a preview, before any disk is pushed", () => {
    it("plans each template's objects by name; the disk's ref is left to the up", async () => {
        const { resources, error } = await registered(() => deploySite(hub(["httpd"])), true);
        expect(error).toBe("");
        for (const image of ["base", "httpd"]) {
            const dv = resources.get(`DataVolume:datavolume-image-factory-${image}-1-0-0`)!;
            expect(dv).toBeDefined();
            expect(resources.get(`DataSource:datasource-image-factory-${image}`)).toBeDefined();
            // Not known yet, and never the placeholder the objects were rendered with.
            expect(JSON.stringify(dv.inputs)).not.toMatch(/pending-disk|undefined/);
            // The mocks' form of a value not known yet: only the fields that hold the ref.
            const unknown = { __pulumiUnknown: true };
            expect(dv.inputs.spec.source.registry).toEqual({ url: unknown, pullMethod: "pod", secretRef: "image-factory-registry-cdi" });
            const annotations = resources.get(`Template:template-image-factory-${image}`)!.inputs.metadata.annotations;
            expect(annotations).toMatchObject({ "image-factory/disk": unknown, "template.kubevirt.io/version": "1.0.0" });
        }
    });
});

describe("which images get templates", () => {
    it("acp.vmTemplates.images: only those", async () => {
        const { resources } = await deploy(hub(["httpd"], { acp: { vmTemplates: { images: ["httpd"] } } }));
        expect(named(resources, "ContainerDisk")).toEqual(["httpd"]);
        expect(named(resources, "DataVolume")).toEqual(["datavolume-image-factory-httpd-1-0-0"]);
    });

    it("without the boot gate: no container disk, no template", async () => {
        const { result, resources } = await deploy(hub(["httpd"], { boot: { enabled: false } }));
        const keys = [...resources.keys()];
        expect(keys.filter((k) => /^(ContainerDisk|VmDisk|BootTest|DataVolume|DataSource|Template):/.test(k))).toEqual([]);
        expect(result!.vmTemplates).toEqual({});
        // The rest of the ACP is there.
        expect(keys.filter((k) => k.startsWith("VirtualMachine:"))).toHaveLength(1);
    });

    it("a template of an image that is not booted here: an error naming the key, and nothing registered", async () => {
        const config = hub(["httpd"], { boot: { enabled: false }, acp: { vmTemplates: { images: ["base", "nope"] } } });
        const { error: result, resources } = await deploy(config);
        expect(result).toContain(
            'image-factory:acp.vmTemplates.images[0]: "base" is not booted on this site, and a VM template is made only from a booted VM disk: image-factory:boot.enabled is false',
        );
        expect(result).toContain('image-factory:acp.vmTemplates.images[1]: unknown image "nope"');
        expect([...resources.keys()].filter((k) => !k.startsWith("Root:"))).toEqual([]);
    });
});

describe("the container disk's tar headers", () => {
    /** The header's checksum field, and the sum it must equal (the field counted as spaces). */
    const checksum = (h: Buffer) => {
        const copy = Buffer.from(h);
        copy.fill(" ", 148, 156);
        return { field: Number.parseInt(h.toString("ascii", 148, 154), 8), sum: copy.reduce((a, b) => a + b, 0) };
    };
    const text = (h: Buffer, offset: number, width: number) => h.toString("ascii", offset, offset + width);

    it("ustar with the qemu user as owner, mtime 0, and a valid checksum", () => {
        const h = tarHeader(diskEntry("qcow2"), "file", 1234, 0o440);
        expect(h).toHaveLength(512);
        expect(text(h, 0, 16)).toBe("disk/disk.qcow2\0");
        expect([text(h, 100, 8), text(h, 108, 8), text(h, 116, 8)]).toEqual(["0000440\0", "0000153\0", "0000153\0"]);
        expect([text(h, 124, 12), text(h, 136, 12), text(h, 156, 1), text(h, 257, 8)]).toEqual(["00000002322\0", "00000000000\0", "0", "ustar\u000000"]);
        const c = checksum(h);
        expect(c.field).toBe(c.sum);
        expect(diskEntry("raw")).toBe("disk/disk.img");
        expect(text(tarHeader("disk/", "dir", 0, 0o555), 156, 1)).toBe("5");
    });

    it("a disk of 8 GiB or more: its size in GNU base-256", () => {
        const size = 10 * 1024 ** 3 + 7;
        const h = tarHeader(diskEntry("raw"), "file", size, 0o440);
        expect(h[124]).toBe(0x80);
        expect(h.readBigUInt64BE(128)).toBe(BigInt(size));
        const c = checksum(h);
        expect(c.field).toBe(c.sum);
        // Just below the limit stays octal.
        expect(text(tarHeader("x", "file", 8 ** 11 - 1, 0o440), 124, 12)).toBe("77777777777\0");
    });
});

describe("composes on the builder VM", () => {
    const builderVm = (composes: string[]) => ({ acp: { builderVm: { ...(exampleStack("hub").values.acp as any).builderVm, composes } } });
    const decoded = (stdin: string) =>
        Object.fromEntries(
            stdin
                .split("\n")
                .filter((l) => /^(target|parent) /.test(l))
                .map((l) => [l.split(" ")[0], Buffer.from(l.split(" ")[1].slice(1), "base64").toString()]),
        );

    it("httpd is built on the builder, on base's tested digest; base here", async () => {
        const { resources, error } = await deploy(hub(["httpd"], builderVm(["httpd"])));
        expect(error).toBe("");
        const compose = resources.get("Command:hub-builder-compose-httpd")!;
        expect(named(resources, "Command")).toEqual(["hub-builder-ready", "hub-builder-compose-httpd", "hub-builder-release"]);
        // Everything goes on stdin, which is a secret (the push credentials are in it); the script is one constant.
        expect(JSON.stringify(compose.inputs.stdin)).toContain("4dabf18193072939515e22adb298388d");
        const stdin = unwrapSecrets(compose.inputs.stdin) as string;
        const base = resources.get("ImageBuild:base")!;
        const baseSigned = outputsOf("ImageSign", resources.get("ImageSign:base")!.inputs).ref;
        expect(decoded(stdin)).toEqual({ target: `registry.hub.example.com/hub/httpd:build-${resources.get("ImageBuild:httpd")!.inputs.definitionHash.slice(7)}`, parent: baseSigned });
        expect(compose.inputs.create).not.toContain("registry.hub.example.com");
        // The build adopts what the compose pushed; base builds here.
        expect(`composed ${resources.get("ImageBuild:httpd")!.inputs.composedRef}\n`).toBe(composeOutput(stdin));
        expect(base.inputs.composedRef).toBeUndefined();
        // The release's triggers name the compose: a new compose, a new release (the order is in acp-components.test.ts).
        expect(resources.get("Command:hub-builder-release")!.inputs.triggers).toHaveLength(2);
        // A fresh ephemeral builder for new composes: its name carries what it is made for.
        expect(named(resources, "VirtualMachine")).toEqual([expect.stringMatching(/^virtualmachine-image-factory-image-factory-builder-[0-9a-f]{10}$/)]);
    });

    it("without composes the builder VM is declared, reached and released, and builds nothing", async () => {
        const { resources } = await deploy(hub(["httpd"], builderVm([])));
        expect(named(resources, "Command")).toEqual(["hub-builder-ready", "hub-builder-release"]);
        expect(resources.get("ImageBuild:httpd")!.inputs.composedRef).toBeUndefined();
    });

    it("a root or unknown image to compose: an error naming the key, and nothing registered", async () => {
        const { error, resources } = await deploy(hub(["httpd"], builderVm(["base", "nope"])));
        expect(error).toContain('image-factory:acp.builderVm.composes[0]: "base" is a root image: a compose builds on a catalog parent');
        expect(error).toContain('image-factory:acp.builderVm.composes[1]: unknown image "nope"');
        expect([...resources.keys()].filter((k) => !k.startsWith("Root:"))).toEqual([]);
    });
});
