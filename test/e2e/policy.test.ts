// The policy pack on the real engine: a preview with a violation fails with the
// rule's message; without it the pack passes.
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { generateSigningKey } from "../../components/supply-chain/sigstore";
import { TestStack } from "./harness";

describe("policy pack in preview", () => {
    let stack: TestStack;
    let policy: string;

    beforeAll(async () => {
        stack = await TestStack.create({ files: ["Pulumi.yaml", "package.json", "tsconfig.json", "infra", "components", "images", "policy"], stack: "guarded" });
        policy = path.join(stack.dir, "policy");
        for (const [k, v] of [["site.name", "guarded"], ["site.role", "local"], ["registry.url", "127.0.0.1:5999"], ["images.select[0]", "base"]]) {
            await stack.pulumi(["config", "set", "--path", `image-factory:${k}`, v]);
        }
        // A fleet key: released-images-signed refuses a stack that releases unsigned images.
        const fleet = generateSigningKey();
        await stack.setSecret("image-factory:signingKey", fleet.privateKey);
        await stack.pulumi(["config", "set", "--path", "image-factory:signing.publicKey", "--non-interactive"], { input: fleet.publicKey });
    });
    afterAll(async () => stack?.cleanup());

    it("passes a stack that follows every rule", async () => {
        const r = await stack.preview(["--policy-pack", policy]);
        expect(r.stdout).toMatch(/Policies:\s*\n\s*✅ image-factory@v1\.0\.0/);
        expect(r.stdout).not.toMatch(/can't run policy/);
    });

    it("fails a preview on a violation, with the rule's message", async () => {
        await stack.pulumi(["config", "set", "myteam:apiToken", "tok-12345"]);
        const err = (await stack.preview(["--policy-pack", policy]).catch((e: ExecError) => e)) as ExecError;
        expect(err).toBeInstanceOf(ExecError);
        expect(err.stdout).toMatch(/- \[mandatory\]\s+no-plain-secrets-in-config\s+\(pulumi:pulumi:Stack: image-factory-guarded\)\n\s+Stack configuration holds no secret-looking value in plain text\./);
        expect(err.stdout).toMatch(/stacks\/Pulumi\.guarded\.yaml: myteam:apiToken looks like a secret but is stored in plain text; set it with `pulumi config set --secret`/);
        // Stored as a secret, the same value passes.
        await stack.pulumi(["config", "set", "--secret", "myteam:apiToken", "tok-12345"]);
        await stack.preview(["--policy-pack", policy]);
    });
});
