// The supply chain on the real engine: with a fleet key, every released image
// is signed by digest with its SBOM and provenance attested beside it; what the
// outputs publish verifies with the public key from the outputs, as a device
// would (containers/image with the policy the base image ships); a no-op up
// signs nothing again; an unsigned image pushed by hand is refused by the
// release, by the policy pack and by the device policy.
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError, run } from "../../components/exec";
import { cacheDir } from "../../components/cache";
import { RegistryClient } from "../../components/registry/client";
import { readAttestations, verifyImageSignature } from "../../components/supply-chain/attachments";
import { POLICY_PATH, PUBLIC_KEY_PATH, REGISTRIES_D_PATH } from "../../components/supply-chain/device-policy";
import { readImageFiles, SPDX_PREDICATE_TYPE } from "../../components/supply-chain/sbom";
import { PROVENANCE_PREDICATE_TYPE } from "../../components/supply-chain/sign.provider";
import { generateSigningKey } from "../../components/supply-chain/sigstore";
import { pushImage } from "../support/images";
import { testRegistry } from "../support/registry";
import { TestStack } from "./harness";

const IMAGES = ["base", "database", "httpd", "homepage"];
const POLICY_CHECK = path.join(cacheDir(), "toolchain/tools/policy-check");

describe("supply chain on the real engine", () => {
    let reg: Awaited<ReturnType<typeof testRegistry>>;
    let stack: TestStack;
    let client: RegistryClient;
    let device: string;
    const fleet = generateSigningKey();

    beforeAll(async () => {
        reg = await testRegistry();
        client = new RegistryClient(reg.address);
        device = await fs.mkdtemp(path.join(os.tmpdir(), "if-device-"));
        stack = await TestStack.create({ files: ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images", "policy"], stack: "signed" });
        for (const [k, v] of [
            ["site.name", "signed"],
            ["site.role", "local"],
            ["registry.url", reg.address],
            ["registry.namespace", "fleet"],
            ["images.select[0]", "homepage"],
            ["images.select[1]", "database"],
        ]) {
            await stack.pulumi(["config", "set", "--path", `image-factory:${k}`, v]);
        }
        // The boot gate has its own e2e test (boot.test.ts); here signing follows the tests directly.
        await stack.pulumi(["config", "set", "--path", "image-factory:boot.enabled", "false"]);
        // As docs/guide.md says: the private key a secret on stdin, the public key plain config.
        await stack.setSecret("image-factory:signingKey", fleet.privateKey);
        await stack.pulumi(["config", "set", "--path", "image-factory:signing.publicKey", "--non-interactive"], { input: fleet.publicKey });
    });
    afterAll(async () => {
        await stack?.cleanup();
        await reg?.stop();
        if (device) await fs.rm(device, { recursive: true, force: true });
    });

    /** The device's decision, with the policy files the released base image ships (their keyPath pointed at a copy of its key). */
    async function deviceAccepts(ref: string): Promise<string> {
        const r = await run(POLICY_CHECK, [path.join(device, "policy.json"), path.join(device, "registries.d"), ref], { okCodes: [0, 1] });
        return r.exitCode === 0 ? "accepted" : r.stderr.trim();
    }

    it("up signs every released image by digest and attests its SBOM and provenance; the outputs' public key verifies them", async () => {
        const started = Date.now();
        const r = await stack.up();
        // (the engine prints a provider's lines live and again in its summary)
        expect(new Set(r.stdout.match(/\[sign \w+\] signed /g))).toEqual(new Set(IMAGES.map((n) => `[sign ${n}] signed `)));
        const signing = new Map([...r.stdout.matchAll(/\[sign (\w+)\] .*? in (\d+) ms/g)].map((m) => [m[1], Number(m[2])]));
        console.log(`first up ${((Date.now() - started) / 1000).toFixed(0)} s; signing, SBOM and provenance per image: ${[...signing].map(([n, ms]) => `${n} ${ms} ms`).join(", ")}`);
        const outputs = await stack.outputs();
        expect(outputs.signing.publicKey).toBe(fleet.publicKey);
        expect(outputs.signing.keyFingerprint).toMatch(/^sha256:[a-f0-9]{64}$/);
        const publicKey: string = outputs.signing.publicKey;
        for (const name of IMAGES) {
            const img = outputs.images[name];
            const hex = img.digest.replace("sha256:", "");
            expect(img.signature.ref).toBe(`${reg.address}/fleet/${name}:sha256-${hex}.sig`);
            expect(img.attestations.ref).toBe(`${reg.address}/fleet/${name}:sha256-${hex}.att`);
            expect(img.sbom).toMatchObject({ format: "SPDX-2.3", predicateType: SPDX_PREDICATE_TYPE, attestation: img.attestations.ref });
            const sig = await verifyImageSignature(client, `fleet/${name}`, img.digest, publicKey);
            expect(sig.digest).toBe(img.signature.digest);
            const attested = await readAttestations(client, `fleet/${name}`, img.digest, publicKey);
            const provenance = attested.get(PROVENANCE_PREDICATE_TYPE) as {
                buildDefinition: { externalParameters: { definitionHash: string }; resolvedDependencies: Array<{ name: string; uri: string; digest: { sha256: string } }> };
            };
            expect(provenance.buildDefinition.externalParameters.definitionHash).toBe(img.definitionHash);
            const parent = provenance.buildDefinition.resolvedDependencies.find((d) => d.name === "parent");
            if (img.parent) expect(`sha256:${parent?.digest.sha256}`).toBe(outputs.images[img.parent].digest);
            else expect(parent).toBeUndefined();
        }
        // The SBOMs list what the catalog installed.
        const names = async (image: string) => {
            const doc = (await readAttestations(client, `fleet/${image}`, outputs.images[image].digest, publicKey)).get(SPDX_PREDICATE_TYPE) as { packages: Array<{ name: string }> };
            return doc.packages.map((p) => p.name);
        };
        expect(await names("httpd")).toContain("apache2");
        expect(await names("homepage")).toContain("apache2");
        expect(await names("database")).toContain("mariadb-server");
        expect(await names("base")).not.toContain("apache2");
        expect(outputs.images.httpd.sbom.packages).toBe((await names("httpd")).length - 1);
    });

    it("the base image ships a containers policy trusting only the fleet key for this registry; with it a device accepts every released image", async () => {
        const outputs = await stack.outputs();
        const base = outputs.images.base;
        const files = await readImageFiles(client, "fleet/base", base.digest, [POLICY_PATH, REGISTRIES_D_PATH, PUBLIC_KEY_PATH]);
        expect(files.get(PUBLIC_KEY_PATH.slice(1))?.toString()).toBe(outputs.signing.publicKey);
        const policy = JSON.parse(files.get(POLICY_PATH.slice(1))!.toString());
        expect(policy.default).toEqual([{ type: "reject" }]);
        expect(policy.transports.docker[`${reg.address}/fleet`]).toEqual([{ type: "sigstoreSigned", keyPath: PUBLIC_KEY_PATH, signedIdentity: { type: "matchRepository" } }]);
        // The device's files, with keyPath pointing at the key as shipped.
        await fs.mkdir(path.join(device, "registries.d"), { recursive: true });
        await fs.writeFile(path.join(device, "key.pub"), files.get(PUBLIC_KEY_PATH.slice(1))!);
        await fs.writeFile(path.join(device, "policy.json"), JSON.stringify(policy).replaceAll(PUBLIC_KEY_PATH, path.join(device, "key.pub")));
        await fs.writeFile(path.join(device, "registries.d/image-factory.yaml"), files.get(REGISTRIES_D_PATH.slice(1))!);
        for (const name of IMAGES) {
            expect(await deviceAccepts(outputs.images[name].ref)).toBe("accepted");
            expect(await deviceAccepts(`${reg.address}/fleet/${name}:latest`)).toBe("accepted");
        }
    });

    it("a second up signs nothing again, and preview --expect-no-changes passes", async () => {
        const r = await stack.up();
        expect(r.stdout).not.toMatch(/\[sign \w+\]/);
        await stack.preview(["--expect-no-changes"]);
    });

    it("an unsigned image pushed by hand is refused by the device, by the policy pack and by the release", async () => {
        const handmade = await pushImage(reg.address, "fleet/homepage", "handmade", { "etc/motd": "not built by the factory\n" });
        expect(await deviceAccepts(handmade.ref)).toMatch(/^refused: .*signature/i);
        await stack.pulumi(["config", "set", "--path", "image-factory:images.pins.homepage", handmade.digest]);
        const pack = await stack.preview(["--policy-pack", path.join(stack.dir, "policy")]).then(
            () => undefined,
            (e: ExecError) => e,
        );
        expect(pack, "the policy pack must refuse the pin").toBeInstanceOf(ExecError);
        expect(pack!.stdout).toMatch(/\[mandatory\]\s+released-images-signed/);
        expect(pack!.stdout).toContain(`${reg.address}/fleet/homepage@${handmade.digest} is not signed: there is no sha256-${handmade.digest.slice(7)}.sig in the registry; it cannot be released`);
        const up = await stack.up().then(
            () => undefined,
            (e: ExecError) => e,
        );
        expect(up, "up must refuse to release it").toBeInstanceOf(ExecError);
        expect(up!.stdout).toContain(
            `homepage: refusing to release ${reg.address}/fleet/homepage@${handmade.digest} (pinned to ${handmade.digest}): ${reg.address}/fleet/homepage@${handmade.digest} is not signed`,
        );
        const outputs = await stack.outputs();
        expect(await client.resolve("fleet/homepage", "latest")).toBe(outputs.images.homepage.digest);
        await stack.pulumi(["config", "rm", "--path", "image-factory:images.pins.homepage"]);
    });

    it("destroy removes the signatures and attestations with the images", async () => {
        const outputs = await stack.outputs();
        await stack.destroy();
        for (const name of IMAGES) {
            const hex = outputs.images[name].digest.replace("sha256:", "");
            expect(await client.resolve(`fleet/${name}`, `sha256-${hex}.sig`)).toBeUndefined();
            expect(await client.resolve(`fleet/${name}`, `sha256-${hex}.att`)).toBeUndefined();
        }
    });
});
