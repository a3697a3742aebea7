// The folder holding Pulumi.yaml (the engine runs the program in infra/).
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** The folder holding Pulumi.yaml. The engine runs the program in infra/. */
export function projectRoot(): string {
    const fromEngine = pulumi.getRootDirectory();
    if (path.isAbsolute(fromEngine) && existsSync(path.join(fromEngine, "Pulumi.yaml"))) return fromEngine;
    // The language host this project builds predates `--root-directory` (the
    // value arrives empty or garbled): find Pulumi.yaml above the program instead.
    for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
        if (existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml above ${process.cwd()}`);
    }
}
