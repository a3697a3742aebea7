// The local stack's fleet key: `npm run up` writes a signing key made for this
// machine into the git-ignored local secrets file; loadSiteConfig derives its
// public half, so the tracked stack file needs none, and the key stays a secret.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../components/supply-chain";
import { ConfigError, loadSiteConfig } from "../../infra/config";
import { localSecretsPath } from "../../infra/local-secrets";
import { projectRoot } from "../../infra/project-root";
import { stackValues } from "../support/acp-fixtures";
import { resolve } from "../support/pulumi-mocks";

const STACK = `unit-fleet-key-${process.pid}`;
const file = () => path.join(projectRoot(), localSecretsPath(STACK));

async function load(secrets: Record<string, string>): Promise<ReturnType<typeof loadSiteConfig>> {
    await fs.mkdir(path.dirname(file()), { recursive: true });
    await fs.writeFile(file(), JSON.stringify({ s3AccessKey: "local-access", s3SecretKey: "local-secret", ...secrets }), { mode: 0o600 });
    const values = stackValues("local");
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`image-factory:${k}`, JSON.stringify(v)])), []);
    return loadSiteConfig();
}

describe("the local stack's machine fleet key", () => {
    beforeEach(async () => {
        await pulumi.runtime.setMocks({ newResource: () => ({ id: undefined, state: {} }), call: () => ({}) }, "image-factory", STACK, false);
    });
    afterEach(() => fs.rm(file(), { force: true }));

    it("signing.publicKey is derived from the signingKey in the local secrets file; the key stays a secret", async () => {
        const fleet = generateSigningKey();
        const c = await load({ signingKey: fleet.privateKey });
        expect(c.signing?.publicKey).toBe(fleet.publicKey);
        expect(await resolve(c.signing!.key!)).toEqual({ value: fleet.privateKey, secret: true });
    });

    it("no local key: nothing is signed", async () => {
        expect((await load({})).signing).toBeUndefined();
    });

    it("a local key that is not a key is an error naming the file and key, never quoting it", async () => {
        const err = await load({ signingKey: "hunter2-not-a-key" }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        const problems = (err as ConfigError).problems;
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(new RegExp(`^\\.local/secrets/${STACK}\\.json: signingKey: not a PEM private key`));
        expect(problems[0]).not.toContain("hunter2");
    });
});
