import { describe, expect, it } from "vitest";
import { checkContract, ContractError } from "../../components/contract";

const valid = { schemaVersion: 1, site: { name: "a", role: "acp" }, registry: { url: "r:5000" }, images: {} };

describe("checkContract", () => {
    it("accepts contract v1 outputs", () => {
        expect(checkContract("acme/image-factory/a", valid)).toEqual(valid);
    });
    it("a newer schemaVersion asks to upgrade the reader", () => {
        expect(() => checkContract("acme/p/a", { ...valid, schemaVersion: 2 })).toThrow(
            new ContractError("acme/p/a publishes outputs schemaVersion 2, but this reader understands 1; upgrade the reader (@image-factory/components/contract)"),
        );
    });
    it("an older or odd schemaVersion asks to redeploy the stack", () => {
        expect(() => checkContract("acme/p/a", { ...valid, schemaVersion: "1" })).toThrow(/schemaVersion "1", but this reader understands 1; redeploy that stack/);
    });
    it("a stack without a schemaVersion is not a site stack", () => {
        expect(() => checkContract("acme/p/x", { foo: 1 })).toThrow(/acme\/p\/x has no schemaVersion output: it is not an image-factory site stack/);
    });
    it("a missing section is named", () => {
        expect(() => checkContract("acme/p/a", { ...valid, images: undefined })).toThrow(/acme\/p\/a: output images is missing or not an object \(contract v1\)/);
    });
});
