// The ImagePipeline component under Pulumi mocks: the resource graph, the
// wiring of tested digests into children and releases, pins, and secrets.
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../components/images/catalog";
import { resolveImages } from "../../components/images/definition";
import { ImagePipeline, pinnedBuild } from "../../components/images/pipeline";

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

function pipeline(pins: Record<string, string> = {}, name = "images") {
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
