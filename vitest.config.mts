import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url)).replace(/\/$/, "");

// Three tiers, run in this order by `npm test`:
//   unit       pure functions, and components under pulumi.runtime.setMocks
//   providers  dynamic provider methods called directly against the real tools
//   e2e        the real Pulumi engine on a file backend
// providers run one file at a time: they share 2 cores with buildah. e2e is two lanes,
// one file at a time each, that scripts/test-e2e.sh (`npm run test:e2e`) runs side by side,
// split by measured time (docs/toolchain.md) so that they end together: e2e-images (the
// qemu boots, the fleet's fresh bootstraps and the signed builds) and e2e (the rest: the
// pipeline, the ACP roles on the local cluster, faults, disks, S3). In one vitest run they
// would take turns: a group's projects share one worker count.
/** The e2e-images lane. */
const IMAGE_E2E = ["boot", "fleet", "hub", "supply-chain"].map((f) => `test/e2e/${f}.test.ts`);

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
                    name: "e2e-images",
                    include: IMAGE_E2E,
                    testTimeout: 45 * 60_000,
                    hookTimeout: 15 * 60_000,
                    fileParallelism: false,
                    sequence: { groupOrder: 2 },
                },
            },
            {
                test: {
                    name: "e2e",
                    include: ["test/e2e/**/*.test.ts"],
                    exclude: IMAGE_E2E,
                    testTimeout: 45 * 60_000,
                    hookTimeout: 15 * 60_000,
                    fileParallelism: false,
                    sequence: { groupOrder: 2 },
                },
            },
        ],
    },
});
