// Faults while the real engine builds, pushes and releases a catalog image (buildah,
// skopeo, a real registry): the whole up killed during the build and during the
// push, the registry stopped during a push. Each ends with
// what `npm run up` does (recover, then up with a refresh), which must converge:
// exit 0, `preview --expect-no-changes` clean, the output digest in the registry
// with its tags on it, nothing left in buildah's storage, no pending operation,
// no temp folder of a dead process.
import { existsSync, promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { buildah } from "../../components/images/buildah";
import { RegistryClient } from "../../components/registry/client";
import { type RunningRegistry, startRegistry } from "../../scripts/services/registry";
import { pushImage } from "../support/images";
import { expectConverged, descendants, HoldingProxy, killUp, recoverAndUp, refresh, startUp, waitFor } from "./faults-harness";
import { ROOT, TestStack } from "./harness";

const MiB = 1024 * 1024;
/** The first line of a request that carries a layer's bytes to the registry. */
const BLOB_UPLOAD = /^(PATCH|PUT) \/v2\/faults\/app\/blobs\/uploads\//;

describe("faults on the real engine: image builds and pushes killed, the registry stopped", () => {
    let work: string;
    let reg: RunningRegistry;
    let proxy: HoldingProxy;
    let stack: TestStack;
    let client: RegistryClient;
    let storage: string;
    let cacheDir: string;
    const said: string[] = [];

    /** The catalog's one image, built on a base image in the registry; `content` changes its definition. */
    const writeCatalog = (content: string) =>
        fs.writeFile(
            path.join(stack.dir, "images/app.yaml"),
            [
                "name: app",
                'version: "1.0.0"',
                "source:",
                "  image:",
                `    ref: ${proxy.address}/faults-base/base:1.0`,
                "    packageManager: apt",
                "files:",
                "  - path: /srv/app.txt",
                `    content: ${JSON.stringify(content)}`,
                // No tests: they run inside the image with its own shell, and this base has none.
                "",
            ].join("\n"),
        );
    /** buildah's containers in the test's storage, read from the store itself (cheap enough to poll). */
    const storedContainers = () => {
        const file = path.join(storage, "storage/vfs-containers/containers.json");
        return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as unknown[]) : [];
    };
    const converged = async () => {
        await expectConverged(stack, { prefixes: ["if-build-", "if-push-", "if-auth-", "if-state-"], parents: [path.join(cacheDir, "tmp")] });
        const { images } = await stack.outputs();
        expect(images.app.ref).toBe(`${proxy.address}/faults/app@${images.app.digest}`);
        expect(await client.resolve("faults/app", images.app.digest)).toBe(images.app.digest);
        for (const tag of ["1.0.0", "latest"]) expect(await client.resolve("faults/app", tag), tag).toBe(images.app.digest);
        // Nothing of a killed build is left in buildah's storage.
        expect((await buildah(storage, ["containers", "--all", "--quiet"])).stdout.trim()).toBe("");
        expect((await buildah(storage, ["images", "--filter", "dangling=true", "--quiet"])).stdout.trim()).toBe("");
        return images.app.digest as string;
    };

    beforeAll(async () => {
        work = await fs.mkdtemp(path.join(os.tmpdir(), "if-e2e-faults-images-"));
        reg = await startRegistry({ dataDir: path.join(work, "registry") });
        proxy = await HoldingProxy.start(reg.address);
        client = new RegistryClient(reg.address);
        // A base with a user database (COPY --chown looks owners up) and a layer big enough to take a moment to copy.
        await pushImage(reg.address, "faults-base/base", "1.0", { "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\n" }, 64 * MiB);
        storage = path.join(work, "containers");
        cacheDir = path.join(work, "cache");
        stack = await TestStack.create({ from: path.join(ROOT, "test/e2e/fixtures/images"), files: ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts"], stack: "faults-images" });
        await fs.mkdir(path.join(stack.dir, "images"));
        await stack.setConfig("registry", proxy.address);
        await stack.setConfig("storage", storage);
        await stack.setConfig("cacheDir", cacheDir);
    });
    afterAll(async () => {
        await stack?.cleanup();
        await proxy?.close();
        await reg?.stop();
        if (work) await fs.rm(work, { recursive: true, force: true });
    });

    it("SIGKILL of the whole up's process group during the image build: the next up removes the working container and converges", async () => {
        await writeCatalog("app 1\n");
        const up = await startUp(stack, "build-killed");
        await waitFor(
            "buildah bud with its working container",
            () => descendants(up.pid).some((p) => p.argv[0]?.endsWith("buildah") && p.argv.includes("bud")) && storedContainers().length > 0,
            10 * 60_000,
            20,
        );
        await killUp(up);
        expect(storedContainers()).toHaveLength(1); // what the kill left

        said.length = 0;
        const r = await recoverAndUp(stack, "images", said);
        expect(said.join("\n")).toMatch(/the last update was interrupted while creating app; clearing its 1 pending operation/);
        expect(r.stdout).toMatch(/\[build app\] removed what interrupted builds left in \S+: 1 working container\(s\)/);
        await converged();
    });

    it("SIGKILL of the whole up's process group during the push: the next up removes the built image left behind, rebuilds and converges", async () => {
        const before = (await stack.outputs()).images.app.digest;
        await writeCatalog("app 2\n");
        const held = proxy.holdNext(BLOB_UPLOAD);
        const up = await startUp(stack, "push-killed");
        await Promise.race([held, up.exited.then(async () => Promise.reject(new Error(`the up ended before pushing:\n${await up.log()}`)))]);
        expect(descendants(up.pid).some((p) => p.argv[0]?.endsWith("skopeo") && p.argv.includes("copy"))).toBe(true);
        await killUp(up);

        said.length = 0;
        const r = await recoverAndUp(stack, "images", said);
        expect(said.join("\n")).toMatch(/the last update was interrupted while updating app; clearing its 1 pending operation/);
        expect(r.stdout).toMatch(/\[build app\] removed what interrupted builds left in \S+: 0 working container\(s\), 1 unnamed image\(s\)/);
        expect(await converged()).not.toBe(before);
    });

    it("the registry stopped during a push: the up fails naming host:port, nothing is recorded as done; after a restart the next up converges", async () => {
        const before = await stack.outputs();
        const buildBefore = (await stack.resources()).find((r) => r.urn.endsWith("ImageBuild::app"))!.outputs!;
        await writeCatalog("app 3\n");
        const held = proxy.holdNext(BLOB_UPLOAD);
        const up = stack.up().then(
            () => undefined,
            (e: ExecError) => e,
        );
        await held;
        await proxy.close();
        await reg.stop();
        const err = await up;
        expect(err).toBeInstanceOf(ExecError);
        const output = `${err!.stdout}\n${err!.stderr}`;
        const named = new RegExp(
            `registry ${proxy.address.replace(/\./g, "\\.")} is not reachable \\(ECONNREFUSED\\) during GET /v2/; the push of ${proxy.address.replace(/\./g, "\\.")}/faults/app@sha256:[0-9a-f]{64} failed: .*`,
        );
        expect(output).toMatch(named);
        expect(output).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
        console.log(`the up failed with: ${named.exec(output)![0]}`);
        // Nothing recorded as done: the build's state and the stack's outputs are what they were.
        expect((await stack.resources()).find((r) => r.urn.endsWith("ImageBuild::app"))!.outputs!.digest).toBe(buildBefore.digest);
        expect((await stack.outputs()).images).toEqual(before.images);

        reg = await startRegistry({ dataDir: path.join(work, "registry"), address: reg.address });
        await proxy.open();
        said.length = 0;
        await recoverAndUp(stack, "images", said);
        expect(await converged()).not.toBe(before.images.app.digest);
    });

    it("a tag moved by hand: refresh reads where it points, preview shows the release moving it back, the next up does", async () => {
        const released = (await stack.outputs()).images.app.digest as string;
        // Someone pushes another image over `latest`, as a hand-made hotfix would.
        const other = await pushImage(reg.address, "faults/app", "latest", { "srv/app.txt": "pushed by hand\n" });
        expect(await client.resolve("faults/app", "latest")).toBe(other.digest);

        const r = await refresh(stack);
        expect(r.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:ImageRelease: \(update\)/);
        const release = (await stack.resources()).find((res) => res.urn.endsWith("ImageRelease::app"))!;
        const drift = `tags disagree: 1.0.0 → ${released}, latest → ${other.digest}`;
        expect(release.outputs!.digest).toBe(drift);
        const p = await stack.preview(["--diff"]);
        expect(p.stdout).toMatch(/~ pulumi-nodejs:dynamic\/image-factory:ImageRelease: \(update\)/);
        const quoted = (v: string) => `"${v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`;
        expect(p.stdout).toMatch(new RegExp(`~ digest\\s*: ${quoted(drift)} => ${quoted(released)}`));

        said.length = 0;
        const up = await recoverAndUp(stack, "images", said);
        expect(up.stdout).toMatch(new RegExp(`faults/app:latest → ${released} \\(was ${other.digest}\\)`));
        expect(await converged()).toBe(released);
    });
});
