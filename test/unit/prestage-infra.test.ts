// The prestage stack configuration and deployPrestage under Pulumi mocks.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { type ConfigError, parseSiteConfig, type RawConfig } from "../../infra/config";
import { defaultDiskDir, deployPrestage, releasedRefs, resolveContentSets } from "../../infra/prestage";
import { projectRoot } from "../../infra/project-root";
import { generateSigningKey } from "../../components/supply-chain";

const D = `sha256:${"cd".repeat(32)}`;
const base = { site: { name: "local", role: "local" }, registry: { url: "127.0.0.1:5000", namespace: "demo" } };
const raw = (prestage: unknown, secrets: RawConfig["secrets"] = {}): RawConfig => ({ values: { ...base, prestage }, secrets });
const problems = (prestage: unknown): string[] => {
    try {
        parseSiteConfig(raw(prestage));
    } catch (e) {
        return (e as ConfigError).problems;
    }
    return [];
};

describe("image-factory:prestage configuration", () => {
    it("fills the defaults", () => {
        const c = parseSiteConfig(raw({ disks: { edge: { size: "16GiB", contentSets: { "ai-images": ["httpd", `quay.io/x/y@${D}`] } } } }));
        expect(c.prestage).toEqual({
            dir: undefined,
            disks: {
                edge: {
                    size: 16 * 1024 ** 3,
                    format: "raw",
                    label: "data",
                    filesystem: "xfs",
                    headroom: 10,
                    mountPoint: "/var/mnt/prestage",
                    contentSets: { "ai-images": ["httpd", `quay.io/x/y@${D}`] },
                    extraFiles: [],
                },
            },
        });
        expect(parseSiteConfig({ values: base, secrets: {} }).prestage).toEqual({ dir: undefined, disks: {} });
    });

    it("the local stack's disk parses", () => {
        const doc = parse(readFileSync(path.join(projectRoot(), "stacks/Pulumi.local.yaml"), "utf8")).config;
        const values = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k.replace(/^image-factory:/, ""), v]));
        // `npm run up` gives the local stack its S3 server's credentials.
        const c = parseSiteConfig({ values, secrets: { s3AccessKey: pulumi.secret("a"), s3SecretKey: pulumi.secret("s") } });
        expect(c.prestage.disks.demo.contentSets).toEqual({ "demo-images": ["base", "httpd", "homepage", "database"] });
    });

    it("names every bad key", () => {
        expect(
            problems({
                dir: "relative",
                extra: 1,
                disks: {
                    Bad_Name: { size: "1GiB", contentSets: {} },
                    edge: {
                        size: "big",
                        format: "vmdk",
                        label: "much-too-long-label",
                        filesystem: "zfs",
                        headroom: -5,
                        mountPoint: "var/mnt",
                        contentSets: { "images.list": ["httpd"], ok: ["Not A Name", "quay.io/x@sha256:abc"] },
                        extraFiles: [{ path: "/abs", content: "x" }, { path: "a" }, { path: "manifest.json", content: "x" }],
                        colour: "blue",
                    },
                    nosize: { contentSets: { a: [] } },
                },
            }).sort(),
        ).toEqual(
            [
                'image-factory:prestage.extra: unknown key (expected one of: dir, disks)',
                'image-factory:prestage.dir: must be an absolute path, got "relative"',
                'image-factory:prestage.disks.Bad_Name: the key must be a DNS label (a-z, 0-9, -), got "Bad_Name"',
                'image-factory:prestage.disks.edge.colour: unknown key (expected one of: size, format, label, filesystem, headroom, mountPoint, contentSets, extraFiles)',
                'image-factory:prestage.disks.edge.size: size "big" is not a size such as 8GiB, 512MiB or 1073741824',
                'image-factory:prestage.disks.edge.format: must be one of "raw", "qcow2", got "vmdk"',
                'image-factory:prestage.disks.edge.label: must be 1-12 characters (letters, digits, . _ -), got "much-too-long-label"',
                'image-factory:prestage.disks.edge.filesystem: must be one of "xfs", "ext4", got "zfs"',
                "image-factory:prestage.disks.edge.headroom: must be a percentage from 0 to 1000, got -5",
                'image-factory:prestage.disks.edge.mountPoint: must be an absolute path, got "var/mnt"',
                'image-factory:prestage.disks.edge.contentSets.images.list: "images.list" is not a usable folder name (a-z, 0-9, . _ -; not images.list, prestage-load.sh, manifest.json, manifest.json.sig, prestage.ign, systemd)',
                'image-factory:prestage.disks.edge.contentSets.ok[0]: must be a catalog image name or a full image reference (host/repository@sha256:… or :tag), got "Not A Name"',
                'image-factory:prestage.disks.edge.contentSets.ok[1]: image reference "quay.io/x@sha256:abc": "sha256:abc" is not a sha256 digest',
                'image-factory:prestage.disks.edge.extraFiles[0].path: must be a relative path on the partition, got "/abs"',
                "image-factory:prestage.disks.edge.extraFiles[1]: needs exactly one of content and source",
                "image-factory:prestage.disks.edge.extraFiles[2].path: manifest.json is the partition's own",
                "image-factory:prestage.disks.nosize.size: is required",
            ].sort(),
        );
    });
});

describe("resolveContentSets", () => {
    it("maps catalog names to released refs by digest, keeps full references", () => {
        expect(resolveContentSets("demo", { a: ["httpd", `quay.io/x/y@${D}`] }, { httpd: `127.0.0.1:5000/demo/httpd@${D}` })).toEqual({
            a: [`127.0.0.1:5000/demo/httpd@${D}`, `quay.io/x/y@${D}`],
        });
    });
    it("names an image the site does not release", () => {
        expect(() => resolveContentSets("demo", { a: ["httpd", "nginx"] }, { httpd: `r/x@${D}` })).toThrow(
            'image-factory:prestage.disks.demo.contentSets.a[1]: "nginx" is not an image this site releases (released: httpd)',
        );
    });
});

describe("deployPrestage (mocks)", () => {
    const registered: Array<{ type: string; name: string; inputs: any }> = [];
    beforeAll(() => {
        pulumi.runtime.setMocks(
            {
                newResource: (args) => {
                    registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                    return {
                        id: args.inputs.path,
                        state: {
                            ...args.inputs,
                            sha256: "ab".repeat(32),
                            size: 1,
                            allocatedSize: 1,
                            partition: { number: 1, start: 2048, end: 4000, label: args.inputs.label, filesystem: args.inputs.filesystem, offsetBytes: 1, sizeBytes: 1 },
                            manifest: [{ contentSet: "a", ref: "r", source: "s", digest: D, mediaType: "m", archive: "a/x.tar", archiveSha256: "00", archiveSize: 1 }],
                            ignition: "{}",
                        },
                    };
                },
                call: () => ({}),
            },
            "image-factory",
            "test",
            false,
        );
    });

    it("releasedRefs maps the images output to name → ref", async () => {
        const image = { ref: `127.0.0.1:5000/demo/httpd@${D}`, digest: D, tags: ["1.0"], version: "1.0", parent: null, definitionHash: D };
        const refs = await new Promise<any>((resolve) => releasedRefs({ httpd: pulumi.output(image) }).apply(resolve));
        expect(refs).toEqual({ httpd: `127.0.0.1:5000/demo/httpd@${D}` });
    });

    it("declares one PreStagedDisk per configured disk, with released refs and a secret password", async () => {
        const config = parseSiteConfig(
            raw(
                { disks: { edge: { size: "8GiB", format: "qcow2", contentSets: { a: ["httpd"] }, extraFiles: [{ path: "x.bin", source: "README.md" }] } } },
                { registryPassword: pulumi.secret("hunter2") },
            ),
        );
        config.registry.username = "robot";
        config.registry.password = pulumi.secret("hunter2");
        const disks = deployPrestage(config, pulumi.output({ httpd: `127.0.0.1:5000/demo/httpd@${D}` }));
        const out = await new Promise<any>((resolve) => disks.apply(resolve));
        const disk = registered.find((r) => r.name === "edge")!;
        expect(disk.type).toBe("pulumi-nodejs:dynamic/image-factory:PreStagedDisk");
        expect(disk.inputs).toMatchObject({
            path: path.join(defaultDiskDir(), "edge.qcow2"),
            diskSize: 8 * 1024 ** 3,
            format: "qcow2",
            label: "data",
            filesystem: "xfs",
            contentSets: { a: [`127.0.0.1:5000/demo/httpd@${D}`] },
            extraFiles: [{ path: "x.bin", source: path.join(projectRoot(), "README.md") }],
        });
        // The whole credentials object reaches the engine as a secret (the wire format's secret signature).
        expect(disk.inputs.credentials).toEqual({
            [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
            value: { registry: "127.0.0.1:5000", username: "robot", password: "hunter2" },
        });
        expect(out.edge).toEqual({
            path: path.join(defaultDiskDir(), "edge.qcow2"),
            format: "qcow2",
            sha256: "ab".repeat(32),
            size: 1,
            allocatedSize: 1,
            partition: { start: 2048, end: 4000, label: "data", filesystem: "xfs" },
            manifest: [{ contentSet: "a", ref: "r", digest: D, archive: "a/x.tar", archiveSha256: "00" }],
            ignition: "{}",
            manifestSignature: null,
        });
        // No fleet key: the disk gets no key to sign with.
        expect(disk.inputs.signingKey).toBeUndefined();
        expect(disk.inputs.publicKey).toBeUndefined();
    });

    it("with the fleet key, the disk gets it as a secret (and its public half) to sign its manifest", async () => {
        const { privateKey, publicKey } = generateSigningKey();
        const config = parseSiteConfig({
            values: { ...base, prestage: { disks: { signed: { size: "1GiB", contentSets: { a: ["httpd"] } } } }, signing: { publicKey } },
            secrets: { signingKey: pulumi.secret(privateKey) },
        });
        await new Promise<any>((resolve) => deployPrestage(config, pulumi.output({ httpd: `127.0.0.1:5000/demo/httpd@${D}` })).apply(resolve));
        const disk = registered.find((r) => r.name === "signed")!;
        expect(disk.inputs.signingKey).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: privateKey });
        expect(disk.inputs.publicKey).toBe(publicKey);
    });
});
