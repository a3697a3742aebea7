// LocalFile: a file on the deploying machine, written atomically (temp path,
// verify, rename). The local stack publishes artifacts this way when no S3
// endpoint is configured.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ProviderImpl } from "../dynamic";
import { isUnknown, diffOn } from "../dynamic";
import { sha256Hex } from "../hash";

export interface LocalFileInputs {
    path: string;
    content: string;
    mode?: number;
}

export interface LocalFileOutputs extends LocalFileInputs {
    sha256: string;
    size: number;
}


async function write(inputs: LocalFileInputs): Promise<LocalFileOutputs> {
    const tmp = path.join(path.dirname(inputs.path), `.${path.basename(inputs.path)}.${process.pid}.tmp`);
    await fs.mkdir(path.dirname(inputs.path), { recursive: true });
    try {
        await fs.writeFile(tmp, inputs.content, { mode: inputs.mode ?? 0o644 });
        const written = await fs.readFile(tmp);
        if (sha256Hex(written) !== sha256Hex(inputs.content)) throw new Error(`${tmp}: read-back checksum differs from what was written`);
        await fs.rename(tmp, inputs.path);
    } catch (e) {
        await fs.rm(tmp, { force: true });
        throw e;
    }
    return { ...inputs, sha256: sha256Hex(inputs.content), size: Buffer.byteLength(inputs.content) };
}

export const provider: ProviderImpl = {
    async check(_olds, news) {
        const failures = [];
        if (!isUnknown(news.path) && (typeof news.path !== "string" || !path.isAbsolute(news.path))) {
            failures.push({ property: "path", reason: `path must be an absolute path, got ${JSON.stringify(news.path)}` });
        }
        if (!isUnknown(news.content) && typeof news.content !== "string") {
            failures.push({ property: "content", reason: "content must be a string" });
        }
        return { inputs: news, failures };
    },
    diff: diffOn(["path"], ["content", "mode"]),
    async create(inputs) {
        const outs = await write(inputs as LocalFileInputs);
        return { id: outs.path, outs };
    },
    async update(_id, _olds, news) {
        return { outs: await write(news as LocalFileInputs) };
    },
    async read(id, props) {
        try {
            const data = await fs.readFile(id);
            return { id, props: { ...props, path: id, content: data.toString("utf8"), sha256: sha256Hex(data), size: data.length } };
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return { id: "", props: {} };
            throw e;
        }
    },
    async delete(id) {
        await fs.rm(id, { force: true });
    },
};
