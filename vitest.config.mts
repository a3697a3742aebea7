import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");

// Three tiers, run in this order by `npm test`:
//   unit       pure functions, and components under pulumi.runtime.setMocks
//   providers  dynamic provider methods called directly against the real tools
//   e2e        the real Pulumi engine on a file backend
// providers and e2e run one file at a time: they share 2 cores with buildah.
export default defineConfig({
    test: {
        reporters: process.env.CI ? ["verbose"] : ["default"],
        projects: [
            {
                test: {
                    name: "unit",
                    include: ["test/unit/**/*.test.ts", "policy/**/*.test.ts"],
                    // What the engine gives a program (pulumi.getRootDirectory()), for infra/ under mocks.
                    env: { PULUMI_NODEJS_ROOT_DIRECTORY: root },
                    testTimeout: 30_000,
                    sequence: { groupOrder: 0 },
                },
            },
            {
                test: {
                    name: "providers",
                    include: ["test/providers/**/*.test.ts"],
                    testTimeout: 15 * 60_000,
                    hookTimeout: 15 * 60_000,
                    fileParallelism: false,
                    sequence: { groupOrder: 1 },
                },
            },
            {
                test: {
                    name: "e2e",
                    include: ["test/e2e/**/*.test.ts"],
                    testTimeout: 45 * 60_000,
                    hookTimeout: 15 * 60_000,
                    fileParallelism: false,
                    sequence: { groupOrder: 2 },
                },
            },
        ],
    },
});
