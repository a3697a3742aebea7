// Errors print as their stack: the language host inspects an unhandled error, and the
// default inspection of one thrown in an apply took minutes (components/errors.ts).
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ExecError } from "../../components/exec";
import { ContractError } from "../../components/contract";
import { CatalogError } from "../../components/images/catalog";
import { ConfigError } from "../../infra/config";

describe("FactoryError", () => {
    it("every error of the project inspects as its stack: name, message and frames, nothing else", () => {
        for (const e of [
            new ContractError('organization/image-factory/site-b publishes no image "database"'),
            new ConfigError(["image-factory:site.name is required"]),
            new CatalogError(["images/x.yaml: parent: no image named y"]),
            new ExecError("skopeo copy failed: the last lines of its output", "skopeo", 1, "x".repeat(10_000), "denied"),
        ]) {
            const printed = inspect(e, { colors: true });
            expect(printed).toBe(e.stack);
            expect(printed).toMatch(new RegExp(`^${e.name}: `));
            expect(printed).toMatch(/\n\s+at /);
            expect(printed).not.toContain("x".repeat(100)); // no property dumped
        }
    });
});
