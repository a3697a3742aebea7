// The folder holding Pulumi.yaml (the engine runs the program in infra/).
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/**
 * The folder holding Pulumi.yaml, as the engine gives it to the program
 * (`pulumi.getRootDirectory()`; the unit tier sets PULUMI_NODEJS_ROOT_DIRECTORY
 * the same way, see vitest.config.mts).
 */
export function projectRoot(): string {
    const root = pulumi.getRootDirectory();
    if (!path.isAbsolute(root) || !existsSync(path.join(root, "Pulumi.yaml"))) {
        throw new Error(`the project root from the engine ("${root}") holds no Pulumi.yaml: run the program with \`pulumi\`, or set PULUMI_NODEJS_ROOT_DIRECTORY to the folder holding Pulumi.yaml`);
    }
    return root;
}
