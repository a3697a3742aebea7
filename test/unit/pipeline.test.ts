// The ImagePipeline component under Pulumi mocks: the resource graph, the
// wiring of tested digests into children and releases, pins, and secrets.
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../components/images/catalog";
import { resolveImages } from "../../components/images/definition";
import { packageChanges, staleness } from "../../components/images/build.provider";
import { ImagePipeline, pinnedBuild, refreshRequestedAt } from "../../components/images/pipeline";

const ROOT = path.resolve(__dirname, "../..");
const digestOf = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
}
const registered: Registered[] = [];

beforeAll(() => {
    pulumi.runtime.setMocks(
        {
            newResource(args) {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                const i = args.inputs;
                if (args.type.endsWith(":ImageBuild")) {
                    const digest = digestOf(`${i.name}|${i.definitionHash}|${i.parentRef}`);
                    return { id: `${i.registry}/${i.repository}`, state: { ...i, digest, ref: `${i.registry}/${i.repository}@${digest}`, history: [{ version: "0.9.0", digest: digestOf("old"), definitionHash: "x", builtAt: "" }, { version: i.version, digest, definitionHash: i.definitionHash, builtAt: "" }] } };
                }
                if (args.type.endsWith(":ImageTest")) {
                    const results = i.tests.map((t: { name: string }) => ({ name: t.name, passed: true, durationMs: 1, detail: "" }));
                    return { id: i.name, state: { ...i, digest: i.ref.split("@")[1], results } };
                }
                if (args.type.endsWith(":VmDisk")) {
                    const digest = i.ref.split("@")[1];
                    const file = (ext: string) => ({ path: `${i.dir}/${i.image}-${digest.slice(7, 19)}.${ext}`, sha256: digestOf(`${i.ref}${ext}`).slice(7), size: 1 });
                    return { id: file(i.format).path, state: { ...i, digest, path: file(i.format).path, sha256: file(i.format).sha256, fileSize: 1, virtualSize: 2 ** 31, kernelVersion: "6.1.0-50-cloud-amd64", kernelArgs: "root=/dev/vda1 rw console=ttyS0", kernel: file("vmlinuz"), initrd: file("initrd"), manifest: file("json"), serialLog: file("boot.log").path } };
                }
                if (args.type.endsWith(":BootTest")) {
                    const result = { targetReached: true, target: "graphical.target", state: "running", failedUnits: [], seconds: 90, guestSeconds: 80, accel: "tcg", probes: i.probes.map((p: { name: string }) => ({ name: p.name, passed: true, detail: "" })) };
                    return { id: i.image, state: { ...i, digest: i.ref.split("@")[1], result } };
                }
                if (args.type.endsWith(":ImageRelease")) return { id: i.name, state: { ...i, ref: `${i.registry}/${i.repository}@${i.digest}`, previous: {} } };
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call(args) {
                throw new Error(`unexpected call to ${args.token}`);
            },
        },
        "image-factory",
        "unit",
        false,
    );
});

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

const BOOT = { dir: "/var/lib/vm-disks", format: "qcow2" as const, size: "2GiB", timeoutSeconds: 900, memoryMiB: 1024, accel: "auto" as const };

function pipeline(pins: Record<string, string> = {}, name = "images", boot?: typeof BOOT) {
    const catalog = loadCatalog(path.join(ROOT, "images"));
    return new ImagePipeline(name, {
        images: resolveImages(catalog, catalog.order),
        registry: "registry.site.example:5000",
        namespace: "site-a",
        auth: pulumi.secret({ username: "builder", password: "s3cret" }),
        channel: "stable",
        pins,
        storage: "/var/cache/containers",
        cacheDir: "/var/cache/image-factory",
        boot,
    });
}

describe("ImagePipeline", () => {
    it("registers build → test → release for each image, under the component", async () => {
        const p = pipeline();
        const released = await value(p.released);
        const mine = registered.filter((r) => r.type.includes("image-factory:Image"));
        const names = (kind: string) => mine.filter((r) => r.type.endsWith(kind)).map((r) => r.name).sort();
        for (const kind of [":ImageBuild", ":ImageTest", ":ImageRelease"]) expect(names(kind)).toEqual(["base", "database", "edge-node", "homepage", "httpd"]);
        expect(Object.keys(released).sort()).toEqual(["base", "database", "edge-node", "homepage", "httpd"]);
        const urn = await value(p.builds.homepage.urn);
        expect(urn).toContain("image-factory:images:ImagePipeline$pulumi-nodejs:dynamic/image-factory:ImageBuild::homepage");
    });

    it("builds a child on its parent's TESTED digest, and releases the tested digest with version, latest and channel", async () => {
        const p = pipeline({}, "wiring");
        const baseTested = await value(p.tests.base.digest);
        const httpdParent = await value((p.builds.httpd as any).parentRef as pulumi.Output<string>);
        expect(httpdParent).toBe(`registry.site.example:5000/site-a/base@${baseTested}`);
        expect(await value((p.builds.base as any).parentRef as pulumi.Output<string | null>)).toBeNull();
        const released = await value(p.released);
        expect(released.homepage).toEqual({
            ref: `registry.site.example:5000/site-a/homepage@${await value(p.tests.homepage.digest)}`,
            digest: await value(p.tests.homepage.digest),
            tags: ["1.0.0", "latest", "stable"],
            version: "1.0.0",
            parent: "httpd",
            definitionHash: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
            tests: { passed: 1, total: 1 },
        });
    });

    it("keeps registry credentials secret on every resource", async () => {
        const p = pipeline({}, "secrets");
        for (const r of [p.builds.base, p.tests.base, p.releases.base]) {
            expect(await pulumi.isSecret((r as any).auth)).toBe(true);
        }
    });

    it("a pin releases the pinned version's digest from the build history", async () => {
        const p = pipeline({ homepage: "0.9.0" }, "pinned");
        const released = await value(p.released);
        expect(released.homepage).toMatchObject({ digest: digestOf("old"), version: "0.9.0", tags: ["0.9.0", "latest", "stable"] });
        expect(released.httpd.version).toBe("1.0.0");
    });

    it("a pin of an image that is not selected is an error naming the key", () => {
        expect(() => pipeline({ nginx: "1.0" }, "badpin")).toThrow(/image-factory:images\.pins\.nginx: "nginx" is not a selected catalog image/);
    });
});

describe("ImagePipeline with the boot gate", () => {
    it("makes a VM disk of each bootable image's tested digest and boots it before release; children build on the booted digest", async () => {
        const p = pipeline({}, "booted", BOOT);
        const released = await value(p.released);
        // Every catalog image descends from the bootable base.
        expect(Object.keys(p.vmDisks).sort()).toEqual(["base", "database", "edge-node", "homepage", "httpd"]);
        const tested = await value(p.tests.base.digest);
        expect(await value((p.vmDisks.base as any).ref as pulumi.Output<string>)).toBe(`registry.site.example:5000/site-a/base@${tested}`);
        expect(await value(p.boots.base.ref)).toBe(`registry.site.example:5000/site-a/base@${tested}`);
        expect(await value((p.builds.httpd as any).parentRef as pulumi.Output<string>)).toBe(await value(p.boots.base.ref));
        // The catalog's service probes are the boot test's probes; commands and files are not.
        expect(await value((p.boots.homepage as any).probes)).toEqual([{ name: "serves the homepage", http: { port: 80, path: "/", status: 200, contains: "Image Mode" } }]);
        expect(await value((p.boots.database as any).probes)).toEqual([{ name: "accepts connections on 3306", tcp: { port: 3306 } }]);
        expect(await value((p.boots.base as any).serialLog as pulumi.Output<string>)).toBe(`/var/lib/vm-disks/base-${tested.slice(7, 19)}.boot.log`);
        expect(released.homepage).toMatchObject({
            boot: { targetReached: true, failedUnits: 0, seconds: 90, accel: "tcg", probes: { passed: 1, total: 1 } },
            vmDisk: { format: "qcow2", digest: released.homepage.digest, kernelArgs: "root=/dev/vda1 rw console=ttyS0", path: expect.stringMatching(/^\/var\/lib\/vm-disks\/homepage-[a-f0-9]{12}\.qcow2$/) },
        });
        expect(await pulumi.isSecret((p.vmDisks.base as any).auth)).toBe(true);
    });

    it("without boot settings nothing is booted, and outputs carry no boot fields", async () => {
        const p = pipeline({}, "unbooted");
        expect(Object.keys(p.vmDisks)).toEqual([]);
        expect((await value(p.released)).base.boot).toBeUndefined();
    });
});

describe("pinnedBuild", () => {
    const history = [
        { version: "1.0.0", digest: digestOf("a"), definitionHash: "h1", builtAt: "" },
        { version: "1.1.0", digest: digestOf("b"), definitionHash: "h2", builtAt: "" },
        { version: "1.0.0", digest: digestOf("c"), definitionHash: "h3", builtAt: "" },
    ];
    it("picks the most recent build of a version", () => {
        expect(pinnedBuild("x", "1.0.0", history)).toEqual({ digest: digestOf("c"), version: "1.0.0" });
    });
    it("accepts a digest, with its version when known", () => {
        expect(pinnedBuild("x", digestOf("b"), history)).toEqual({ digest: digestOf("b"), version: "1.1.0" });
        expect(pinnedBuild("x", digestOf("z"), history)).toEqual({ digest: digestOf("z"), version: undefined });
    });
    it("an unknown version is an error that lists the known ones", () => {
        expect(() => pinnedBuild("homepage", "0.1", history)).toThrow(/images\.pins\.homepage: no build of version "0\.1" is known to this stack \(built versions: 1\.0\.0, 1\.1\.0\)/);
    });
});

describe("refresh of root images", () => {
    const day = 86_400_000;
    const now = Date.parse("2026-12-02T12:00:00Z");
    const olds = { refreshedAt: new Date(now - 8 * day).toISOString(), history: [] };
    const policy = (everySeconds: number | null, requestedAt: number | null = null) => ({ refresh: { everySeconds, requestedAt, packageManager: "apt" as const } });

    it("a root is due once its packages are older than refresh.every, and says so", () => {
        expect(staleness(olds, policy(7 * 86_400), now)).toBe("stale: its packages were fetched 8d ago (refresh.every 7d)");
        expect(staleness(olds, policy(9 * 86_400), now)).toBeUndefined();
        expect(staleness(olds, policy(null), now)).toBeUndefined();
    });
    it("--refresh-bases makes every root due once: asked after its last refresh", () => {
        expect(staleness(olds, policy(null, now - 60_000), now)).toBe("a refresh of the bases was asked; its packages were fetched 8d ago");
        expect(staleness(olds, policy(null, now - 9 * day), now)).toBeUndefined();
    });
    it("a child (no policy) is never due by itself; without refreshedAt the last build's time counts", () => {
        expect(staleness(olds, { refresh: null }, now)).toBeUndefined();
        expect(staleness({ history: [{ version: "1", digest: "d", definitionHash: "h", builtAt: new Date(now - 2 * day).toISOString() }] }, policy(86_400), now)).toBe("stale: its packages were fetched 2d ago (refresh.every 1d)");
    });
    it("package changes: new versions, added and removed packages; none when equal", () => {
        const before = ["libc6=2.36-9+deb12u9", "libssl3=3.0.15-1~deb12u1", "tzdata=2024a-0+deb12u1"];
        expect(packageChanges(before, [...before])).toEqual([]);
        expect(packageChanges(before, ["libc6=2.36-9+deb12u9", "libssl3=3.0.16-1~deb12u1", "zlib1g=1:1.2.13"])).toEqual(["+ zlib1g 1:1.2.13", "- tzdata 2024a-0+deb12u1", "libssl3 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1"]);
    });
    it("the pipeline gives the root image its catalog refresh policy (base: every 7d) and children none", async () => {
        registered.length = 0;
        pipeline({}, "refresh");
        await new Promise((r) => setTimeout(r, 50));
        const builds = registered.filter((r) => r.type.endsWith(":ImageBuild"));
        const refreshOf = (n: string) => builds.find((b) => b.name === n)!.inputs.refresh;
        expect(refreshOf("base")).toEqual({ everySeconds: 7 * 86_400, requestedAt: null, packageManager: "apt" });
        for (const child of ["httpd", "homepage", "database", "edge-node"]) expect(refreshOf(child)).toBeNull();
    });
    it("the time asked through the environment is checked", () => {
        expect(refreshRequestedAt({})).toBeUndefined();
        expect(refreshRequestedAt({ IMAGE_FACTORY_REFRESH_BASES: "1764676800000" })).toBe(1764676800000);
        expect(() => refreshRequestedAt({ IMAGE_FACTORY_REFRESH_BASES: "yes" })).toThrow(/IMAGE_FACTORY_REFRESH_BASES must be a time in milliseconds/);
    });
});
