// The image providers' methods against the real tools (buildah, skopeo,
// mmdebstrap) and a real registry: edge cases the e2e tier does not reach.
import { promises as fs } from "node:fs";
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provider as buildProvider } from "../../components/images/build.provider";
import { cacheDir as defaultCacheDir } from "../../components/cache";
import { bootstrapRootfs, buildah, exportLayout, pushLayout } from "../../components/images/buildah";
import { withTempDir } from "../../components/temp-dir";
import { provider as releaseProvider } from "../../components/images/release.provider";
import { runImageTests, provider as testProvider } from "../../components/images/test.provider";
import { UNKNOWN } from "../../components/dynamic";
import { RegistryClient } from "../../components/registry/client";
import { freePort } from "../../scripts/services/registry";
import { testRegistry } from "../support/registry";

const cacheDir = defaultCacheDir();
const storage = path.join(cacheDir, "containers");
const say = () => undefined;

describe("image providers against real tools", () => {
    let reg: Awaited<ReturnType<typeof testRegistry>>;
    let ref: string;
    let digest: string;

    beforeAll(async () => {
        reg = await testRegistry();
        // A small real image: the demo base's root filesystem (cached per machine) plus an absolute symlink.
        const tar = await bootstrapRootfs({ kind: "rootfs", distro: "debian", suite: "bookworm", mirror: "http://deb.debian.org/debian", variant: "minbase", packages: ["systemd", "systemd-sysv"] }, cacheDir, say);
        await withTempDir("if-ptest-", async (dir) => {
            await fs.link(tar, path.join(dir, "rootfs.tar")).catch(() => fs.copyFile(tar, path.join(dir, "rootfs.tar")));
            await fs.writeFile(path.join(dir, "Containerfile"), "FROM scratch\nADD rootfs.tar /\nRUN ln -s /etc/hostname-target /etc/abs-link && echo inside > /etc/hostname-target && chmod 0640 /etc/hostname-target\n");
            await buildah(storage, ["bud", "--isolation", "chroot", "--layers=false", "--iidfile", path.join(dir, "iid"), "-f", path.join(dir, "Containerfile"), dir]);
            const id = (await fs.readFile(path.join(dir, "iid"), "utf8")).trim();
            digest = await exportLayout(storage, id, path.join(dir, "layout"));
            await pushLayout(path.join(dir, "layout"), digest, `${reg.address}/t/img`, undefined, say);
            await buildah(storage, ["rmi", "-f", id]);
        }, path.join(cacheDir, "tmp"));
        ref = `${reg.address}/t/img@${digest}`;
    });
    afterAll(async () => reg?.stop());

    describe("ImageTest", () => {
        it("reports each failing test with its output, and runs the others", async () => {
            const results = await runImageTests({
                name: "t",
                ref,
                storage,
                tests: [
                    { name: "exit code", kind: "command", run: ["sh", "-c", "echo oops >&2; exit 3"], exitCode: 0 },
                    { name: "output", kind: "command", run: ["cat", "/etc/os-release"], exitCode: 0, stdoutContains: "fedora" },
                    { name: "passes", kind: "command", run: ["true"], exitCode: 0 },
                    { name: "mode", kind: "file", path: "/etc/hostname-target", mode: "0644" },
                    { name: "symlink stays in the image", kind: "file", path: "/etc/abs-link", contains: "inside" },
                    { name: "missing", kind: "file", path: "/nope" },
                ],
            });
            const byName = Object.fromEntries(results.map((r) => [r.name, r]));
            expect(byName["exit code"]).toMatchObject({ passed: false, detail: expect.stringMatching(/exited 3 \(expected 0\):\noops/) });
            expect(byName.output).toMatchObject({ passed: false, detail: expect.stringMatching(/does not contain "fedora"/) });
            expect(byName.passes.passed).toBe(true);
            expect(byName.mode).toMatchObject({ passed: false, detail: "/etc/hostname-target has mode 0640, expected 0644" });
            expect(byName["symlink stays in the image"].passed).toBe(true);
            expect(byName.missing).toMatchObject({ passed: false, detail: "/nope is not a file in the image" });
        });

        it("a service that answers: its HTTP status compared exactly, its body's text, and TCP", async () => {
            // The image has no HTTP server; perl (Essential in Debian) is one, answering 404 with a body.
            const serve = (port: number) => [
                "perl",
                "-MIO::Socket::INET",
                "-e",
                `my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:${port}", Listen => 5, ReuseAddr => 1) or die "listen: $!"; while (my $c = $s->accept) { while (<$c>) { last if /^\\r?\\n$/ } print $c "HTTP/1.0 404 Not Found\\r\\n\\r\\nserved from the image\\n"; close $c }`,
            ];
            const service = { kind: "service" as const, timeoutSeconds: 20 };
            const results = await runImageTests({
                name: "t",
                ref,
                storage,
                tests: [
                    { ...service, name: "404 as expected", start: serve(8080), http: { port: 8080, path: "/missing", status: 404, contains: "served from" } },
                    { ...service, name: "not 200", start: serve(8081), http: { port: 8081, path: "/", status: 200 } },
                    { ...service, name: "tcp", start: serve(8082), tcp: { port: 8082 } },
                ],
            });
            expect(results.map(({ name, passed, detail }) => ({ name, passed, detail }))).toEqual([
                { name: "404 as expected", passed: true, detail: "" },
                { name: "not 200", passed: false, detail: "GET / on port 8081 → 404 (expected 200)\nserved from the image" },
                { name: "tcp", passed: true, detail: "" },
            ]);
        });

        it("a service is stopped cleanly before the next starts: a wrapper that dies at once does not cut its server's shutdown short", async () => {
            // As apache2ctl runs apache2: sh waits for the server (no exec); the server removes its pid file on SIGTERM, after a moment,
            // and refuses to start while the file exists. Cut short (SIGKILL), it would leave the file and the second test would fail.
            const server = `if (-e "/run/t.pid") { die "already running" } open(my $p, ">", "/run/t.pid"); close $p; $SIG{TERM} = sub { sleep 1; unlink "/run/t.pid"; exit 0 }; my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:8090", Listen => 5, ReuseAddr => 1) or die "listen: $!"; while (1) { my $c = $s->accept or next; close $c }`;
            const start = ["sh", "-c", `perl -MIO::Socket::INET -e '${server}'; echo server exited`];
            const tests = [1, 2].map((n) => ({ name: `run ${n}`, kind: "service" as const, start, timeoutSeconds: 20, tcp: { port: 8090 } }));
            const results = await runImageTests({ name: "t", ref, storage, tests });
            expect(results.map(({ name, passed, detail }) => ({ name, passed, detail }))).toEqual(tests.map((t) => ({ name: t.name, passed: true, detail: "" })));
        });

        it("a service that never answers fails after its timeout, with the service's output", async () => {
            const [r] = await runImageTests({
                name: "t",
                ref,
                storage,
                tests: [{ name: "svc", kind: "service", start: ["sh", "-c", "echo starting; sleep 30"], timeoutSeconds: 2, tcp: { port: 8080 } }],
            });
            expect(r.passed).toBe(false);
            expect(r.detail).toMatch(/^not answering yet \(Connection refused\) after 2s; service output:\n.*starting/s);
        });

        it("a service is probed in its own network namespace: a host server on the same port is never mistaken for it", async () => {
            const port = await freePort();
            const host = http.createServer((_q, r) => r.end("host")).listen(port, "127.0.0.1");
            try {
                const [r] = await runImageTests({
                    name: "t",
                    ref,
                    storage,
                    tests: [{ name: "svc", kind: "service", start: ["sleep", "30"], timeoutSeconds: 2, http: { port, path: "/", status: 200 } }],
                });
                expect(r.passed).toBe(false);
                expect(r.detail).toMatch(/Connection refused/);
            } finally {
                host.close();
            }
        });

        it("create fails with every failing test's output; check refuses a tag reference", async () => {
            const err = await testProvider.create({ name: "t", ref, storage, tests: [{ name: "nope", kind: "command", run: ["false"], exitCode: 0 }] }).catch((e) => e);
            expect(err.message).toMatch(/^t: 1 of 1 tests failed for .*@sha256:[a-f0-9]{64}; nothing is released for it or its descendants:\n {2}✗ nope\n\s+`false` exited 1/);
            const check = await testProvider.check({}, { name: "t", ref: `${reg.address}/t/img:latest`, tests: [] });
            expect(check.failures?.[0]).toMatchObject({ property: "ref", reason: expect.stringMatching(/must be referenced by digest/) });
            expect((await testProvider.check({}, { name: "t", ref: UNKNOWN, tests: UNKNOWN })).failures).toEqual([]);
        });
    });

    describe("ImageRelease", () => {
        const inputs = () => ({ name: "img", registry: reg.address, repository: "t/img", digest, version: "2.0", tags: ["2.0", "latest"], reason: "latest tested build" });

        it("moves tags to the digest and records what they pointed at before", async () => {
            const { outs } = await releaseProvider.create(inputs());
            const client = new RegistryClient(reg.address);
            expect(await client.resolve("t/img", "2.0")).toBe(digest);
            expect(await client.resolve("t/img", "latest")).toBe(digest);
            expect(outs.previous).toEqual({ "2.0": null, latest: null });
            expect(outs.ref).toBe(ref);
        });

        it("read reports a tag moved behind the stack's back", async () => {
            const { outs } = await releaseProvider.create(inputs());
            const client = new RegistryClient(reg.address);
            await client.putManifest("t/img", "latest", { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] })), mediaType: "application/vnd.oci.image.index.v1+json" });
            const read = await releaseProvider.read!("x", outs);
            expect(read.props!.digest).toMatch(new RegExp(`^tags disagree: 2\\.0 → ${digest}, latest → sha256:[0-9a-f]{64}$`));
            // Stable: a second refresh reads the same, never one of the digests.
            expect((await releaseProvider.read!("x", read.props)).props!.digest).toBe(read.props!.digest);
            // The inputs as well, so that preview shows the digest the next up moves the tags back from.
            expect(read.inputs).toEqual({ ...inputs(), digest: read.props!.digest });
            expect(read.inputs).not.toHaveProperty("ref");
        });

        it("refuses to release a digest the registry does not have", async () => {
            const missing = `sha256:${"0".repeat(64)}`;
            await expect(releaseProvider.create({ ...inputs(), digest: missing })).rejects.toThrow(`img: ${reg.address}/t/img@${missing} is not in the registry; cannot release it (latest tested build)`);
        });
    });

    describe("ImageBuild", () => {
        /** A root of its own (the smallest Debian root), so that its bootstraps do not replace the demo base's cached one. */
        const minbaseRoot = (name: string, definitionHash: string) => {
            const containerfile = "FROM scratch\nADD rootfs.tar /\n";
            return {
                name,
                version: "1.0.0",
                registry: reg.address,
                repository: `t/${name}`,
                definitionHash,
                containerfile,
                context: { Containerfile: { text: containerfile } },
                source: { kind: "rootfs" as const, distro: "debian" as const, suite: "bookworm", mirror: "http://deb.debian.org/debian", variant: "minbase" as const, packages: [] },
                parentRef: null,
                storage,
                cacheDir,
            };
        };

        it("a registry that is down fails the build at once, naming the host", async () => {
            const down = `127.0.0.1:${await freePort()}`;
            const started = Date.now();
            const err = await buildProvider
                .create({ name: "x", version: "1", registry: down, repository: "t/x", definitionHash: "sha256:1", containerfile: "FROM scratch", context: { Containerfile: { text: "FROM scratch\n" } }, source: null, parentRef: null, storage, cacheDir })
                .catch((e) => e);
            expect(err.message).toMatch(new RegExp(`registry ${down.replace(/\./g, "\\.")} is not reachable \\(ECONNREFUSED\\)`));
            expect(Date.now() - started).toBeLessThan(30_000);
        });

        it("diff: a new definition or parent rebuilds; a new repository replaces; storage alone changes nothing", async () => {
            const olds = { name: "x", version: "1", registry: "r:5000", repository: "a/x", definitionHash: "h1", parentRef: "p@1", storage: "/s1", cacheDir: "/c" };
            expect(await buildProvider.diff("id", olds, { ...olds, storage: "/s2", cacheDir: "/c2" })).toMatchObject({ changes: false, replaces: [] });
            expect(await buildProvider.diff("id", olds, { ...olds, definitionHash: "h2" })).toMatchObject({ changes: true, replaces: [] });
            expect(await buildProvider.diff("id", olds, { ...olds, parentRef: UNKNOWN })).toMatchObject({ changes: true, replaces: [] });
            expect(await buildProvider.diff("id", olds, { ...olds, repository: "b/x" })).toMatchObject({ changes: true, replaces: ["repository"] });
        });

        it("a build composed on the builder VM: its digest is taken once the registry has it; a missing one or another repository's fails, naming it", async () => {
            const inputs = (composedRef: string) => ({
                name: "img",
                version: "1.0",
                registry: reg.address,
                repository: "t/img",
                definitionHash: `sha256:${"c".repeat(64)}`,
                containerfile: "FROM x\n",
                context: { Containerfile: { text: "FROM x\n" } },
                source: null,
                parentRef: null,
                storage,
                cacheDir,
                composedRef,
            });
            const { outs } = await buildProvider.create(inputs(ref));
            expect(outs).toMatchObject({ digest, ref, history: [{ digest, version: "1.0" }] });
            const missing = `${reg.address}/t/img@sha256:${"0".repeat(64)}`;
            // A new compose is a new build.
            expect(await buildProvider.diff!("id", outs, inputs(missing))).toMatchObject({ changes: true });
            await expect(buildProvider.update!("id", outs, inputs(missing))).rejects.toThrow(`img: the compose reported ${missing}, which the registry does not have`);
            await expect(buildProvider.create(inputs(`${reg.address}/t/other@${digest}`))).rejects.toThrow(`img: the compose pushed ${reg.address}/t/other@${digest}, not an image of ${reg.address}/t/img`);
            expect((await buildProvider.check({}, inputs("t/img:latest"))).failures).toEqual([
                { property: "composedRef", reason: 'a compose\'s result must be referenced by digest (host/repo@sha256:…), got "t/img:latest"' },
            ]);
        });

        it("read drops a build whose manifest is gone from the registry", async () => {
            const outs = { name: "img", registry: reg.address, repository: "t/img", digest: `sha256:${"1".repeat(64)}` };
            expect(await buildProvider.read!("x", outs)).toEqual({ id: "", props: {} });
            expect((await buildProvider.read!("x", { ...outs, digest })).id).toBe("x");
        });

        it("the build cache: the same definition on the same parent is pushed from the kept build, wherever the parent was pulled from; reuseBuilds false builds again", async () => {
            const containerfile = "ARG PARENT_IMAGE\nFROM ${PARENT_IMAGE}\nRUN echo cached > /etc/cached\n";
            const port = reg.address.split(":")[1];
            const inputs = {
                name: "cached",
                version: "1.0.0",
                registry: reg.address,
                repository: "t/cached",
                // New on every run, so that the first create really builds.
                definitionHash: `sha256:${randomBytes(32).toString("hex")}`,
                containerfile,
                context: { Containerfile: { text: containerfile } },
                source: null,
                parentRef: ref,
                storage,
                cacheDir,
            };
            const logged: string[] = [];
            const log = console.log;
            console.log = (...a: unknown[]) => void logged.push(a.join(" "));
            try {
                const built = (await buildProvider.create(inputs)).outs;
                expect(logged.join("\n")).toMatch(/\[build cached\] built and pushed /);
                expect(logged.join("\n")).not.toMatch(/from the build cache/);

                // Another repository, the parent named by another host (the same registry): the kept build is pushed.
                logged.length = 0;
                const again = (await buildProvider.create({ ...inputs, repository: "t/cached-copy", parentRef: `localhost:${port}/t/img@${digest}` })).outs;
                expect(logged.join("\n")).toMatch(/the same definition on the same parent was built on this machine at .*: pushing that build \(sha256:[0-9a-f]{64}\) from the build cache/);
                expect(logged.join("\n")).not.toMatch(/STEP|built and pushed/);
                expect(again.digest).toBe(built.digest);
                expect(await new RegistryClient(reg.address).resolve("t/cached-copy", built.digest)).toBe(built.digest);

                // Another version is another build; so is any build with reuseBuilds false.
                for (const other of [{ ...inputs, version: "1.0.1" }, { ...inputs, reuseBuilds: false }]) {
                    logged.length = 0;
                    await buildProvider.create(other);
                    expect(logged.join("\n")).toMatch(/\[build cached\] built and pushed /);
                    expect(logged.join("\n")).not.toMatch(/from the build cache/);
                }
            } finally {
                console.log = log;
            }
        }, 10 * 60_000);

        it("refresh: a root records its packages; it is due only once its refresh period has passed, and the diff says why", async () => {
            const inputs = { ...minbaseRoot("fresh", `sha256:${"f".repeat(64)}`), refresh: { everySeconds: 7 * 86_400, requestedAt: null, packageManager: "apt" as const } };
            const logged: string[] = [];
            const log = console.log;
            console.log = (...a: unknown[]) => void logged.push(a.join(" "));
            try {
                const created = (await buildProvider.create(inputs)).outs;
                expect(created.packages).toEqual(expect.arrayContaining([expect.stringMatching(/^dpkg=1\.21\./), expect.stringMatching(/^libc6=2\.36-/)]));
                expect(Date.parse(created.refreshedAt)).toBeGreaterThan(0);
                // Not due yet: nothing to do.
                expect(await buildProvider.diff!("id", created, inputs)).toMatchObject({ changes: false });
                // Due (its packages fetched 8 days ago): the diff says so and why.
                const old = { ...created, refreshedAt: new Date(Date.now() - 8 * 86_400_000).toISOString() };
                expect(await buildProvider.diff!("id", old, inputs)).toMatchObject({ changes: true });
                expect(logged.join("\n")).toMatch(/\[build fresh\] stale: its packages were fetched 8d ago \(refresh\.every 7d\): it is rebuilt, and released again only if its packages changed/);

                // What the refresh then does (a fresh bootstrap; the same packages push nothing, a changed one
                // pushes a new build and moves the tree) is on the real engine in test/e2e/fleet.test.ts.
            } finally {
                console.log = log;
            }
        }, 20 * 60_000);

        it("the build cache: a root that records its packages is built again when the kept build has no package list", async () => {
            // A new definition hash on every run, so that the first create really builds.
            const inputs = minbaseRoot("unlisted", `sha256:${randomBytes(32).toString("hex")}`);
            const refresh = { everySeconds: 7 * 86_400, requestedAt: null, packageManager: "apt" as const };
            const logged: string[] = [];
            const log = console.log;
            console.log = (...a: unknown[]) => void logged.push(a.join(" "));
            try {
                // Built without the policy (as an older version, or a build without it, kept it): no package list.
                expect((await buildProvider.create(inputs)).outs.packages).toBeNull();
                // With the policy it is built again, not pushed from the cache: its first refresh then has a list to compare with.
                logged.length = 0;
                const listed = (await buildProvider.create({ ...inputs, refresh })).outs;
                expect(logged.join("\n")).toMatch(/\[build unlisted\] the build kept on this machine at .* has no package list, which a refresh compares with: building it again/);
                expect(logged.join("\n")).not.toMatch(/from the build cache/);
                expect(listed.packages).toEqual(expect.arrayContaining([expect.stringMatching(/^libc6=2\.36-/)]));
                // That build replaced the entry: the next one is pushed from the cache, with its packages.
                logged.length = 0;
                const again = (await buildProvider.create({ ...inputs, refresh, repository: "t/unlisted-copy" })).outs;
                expect(logged.join("\n")).toMatch(/from the build cache/);
                expect(again).toMatchObject({ digest: listed.digest, packages: listed.packages, refreshedAt: listed.refreshedAt });
            } finally {
                console.log = log;
            }
        }, 10 * 60_000);
    });
});
