// Bad input is reported before anything is registered: deploySite checks the
// catalog, the selection, customizations and every image name the config hands
// on (boot artifacts, pre-staged disk content) before its first resource.
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { describe, expect, it } from "vitest";
import { parseSiteConfig } from "../../infra/config";
import { deploySite } from "../../infra/site";

async function registeredBy(fn: () => unknown): Promise<{ error: string; registered: string[] }> {
    const registered: string[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered.push(`${args.type}:${args.name}`);
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: (args) => {
                throw new Error(`unmocked invoke ${args.token}`);
            },
        },
        "image-factory",
        "test",
        false,
    );
    let error = "";
    try {
        fn();
    } catch (e) {
        error = (e as Error).message;
    }
    await (settings as any).waitForRPCs();
    return { error, registered };
}

const base = { site: { name: "local", role: "local" }, registry: { url: "127.0.0.1:5000", namespace: "demo" } };
const s3 = { s3AccessKey: pulumi.secret("a"), s3SecretKey: pulumi.secret("s") };
const artifacts = { kind: "s3-api", endpoint: "http://127.0.0.1:7070" };

describe("deploySite on bad input", () => {
    it.each([
        ["an unknown boot artifact image", { artifacts: { ...artifacts, bootArtifacts: ["nope"] } }, /artifacts\.bootArtifacts: "nope" is not a selected catalog image/],
        [
            "an unknown image in a disk's content set",
            { artifacts, prestage: { disks: { d: { size: "1GiB", contentSets: { s: ["nope"] } } } } },
            /prestage\.disks\.d\.contentSets\.s\[0\]: "nope" is not a selected catalog image/,
        ],
        ["an unknown selected image", { artifacts, images: { select: ["nope"] } }, /images\.select: "nope" is not in the catalog/],
        ["a customization of an unknown image", { artifacts, images: { customizations: { nope: { packages: ["vim"] } } } }, /images\.customizations\.nope: "nope" is not in the catalog/],
        ["a customization file outside the catalog", { artifacts, images: { customizations: { httpd: { files: [{ path: "/x", source: "../README.md" }] } } } }, /must stay inside the catalog folder/],
    ])("%s: a clear error and no resource", async (_what, values, expected) => {
        const config = parseSiteConfig({ values: { ...base, ...values }, secrets: s3 });
        const { error, registered } = await registeredBy(() => deploySite(config));
        expect(error).toMatch(expected);
        expect(registered).toEqual([]);
    });
});
