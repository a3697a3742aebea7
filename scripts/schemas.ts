// Writes the published JSON Schemas (schemas/*.schema.json) from the TypeBox
// schemas the program validates with: `npm run schemas` after changing one.
// A unit test fails while they are out of date.
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { ImageFile } from "../components/images/schema";
import { jsonSchema } from "../components/schema";
import { NAMESPACE, SECRET_KEYS, StackConfig } from "../infra/config-schema";

const ROOT = path.resolve(__dirname, "..");

/** A stack file (stacks/Pulumi.<site>.yaml): the image-factory:* keys, secrets only as ciphertext. */
function stackFileSchema(): object {
    const plain = jsonSchema(StackConfig, "image-factory stack configuration") as { properties: Record<string, unknown>; required: string[] };
    const keys = [...Object.keys(plain.properties), ...SECRET_KEYS].map((k) => `${NAMESPACE}:${k}`);
    const secure = {
        type: "object",
        description: "A secret: set it with `pulumi config set --secret`, never in plain text.",
        properties: { secure: { type: "string" } },
        required: ["secure"],
        additionalProperties: false,
    };
    return {
        $schema: "http://json-schema.org/draft-07/schema#",
        title: "image-factory stack file (stacks/Pulumi.<site>.yaml)",
        type: "object",
        properties: {
            secretsprovider: { type: "string" },
            encryptionsalt: { type: "string" },
            config: {
                type: "object",
                properties: {
                    ...Object.fromEntries(Object.entries(plain.properties).map(([k, v]) => [`${NAMESPACE}:${k}`, v])),
                    ...Object.fromEntries(SECRET_KEYS.map((k) => [`${NAMESPACE}:${k}`, secure])),
                },
                required: plain.required.map((k) => `${NAMESPACE}:${k}`),
                // Other namespaces (aws:region, ...) are theirs; an unknown image-factory key is a typo.
                propertyNames: { anyOf: [{ enum: keys }, { not: { pattern: `^${NAMESPACE}:` } }] },
            },
        },
        required: ["config"],
    };
}

/** File name → content of every published schema. */
export function schemaFiles(): Record<string, string> {
    const docs = {
        "image.schema.json": jsonSchema(ImageFile, "image-factory catalog image (images/*.yaml)"),
        "stack-config.schema.json": stackFileSchema(),
    };
    return Object.fromEntries(Object.entries(docs).map(([name, doc]) => [name, `${JSON.stringify(doc, null, 2)}\n`]));
}

if (require.main === module) {
    for (const [name, text] of Object.entries(schemaFiles())) {
        writeFileSync(path.join(ROOT, "schemas", name), text);
        console.log(`wrote schemas/${name}`);
    }
}
