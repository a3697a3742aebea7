// The SBOM of an image: the packages its root filesystem's package database
// says are installed, as an SPDX 2.3 JSON document. Read straight from the
// image's layers in the registry (top layer first, honouring whiteouts), so it
// describes exactly the bytes that were signed, with no container to create.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Parser, type ReadEntry } from "tar";
import type { RegistryClient } from "../registry/client";

export const SPDX_PREDICATE_TYPE = "https://spdx.dev/Document";

export interface DebPackage {
    name: string;
    version: string;
    architecture: string;
    source?: string;
    maintainer?: string;
    homepage?: string;
    description?: string;
}

/** The installed packages of a dpkg status file (stanzas with `Status: install ok installed`). */
export function parseDpkgStatus(text: string): DebPackage[] {
    const out: DebPackage[] = [];
    for (const stanza of text.split(/\n\s*\n/)) {
        const fields: Record<string, string> = {};
        let last = "";
        for (const line of stanza.split("\n")) {
            if (/^\s/.test(line) && last) continue; // continuation lines (long descriptions, conffiles)
            const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
            if (!m) continue;
            last = m[1].toLowerCase();
            fields[last] = m[2].trim();
        }
        if (!fields.package || !/\binstalled$/.test(fields.status ?? "") || !/^install ok/.test(fields.status ?? "")) continue;
        out.push({
            name: fields.package,
            version: fields.version ?? "",
            architecture: fields.architecture ?? "all",
            source: fields.source?.split(" ")[0],
            maintainer: fields.maintainer,
            homepage: fields.homepage,
            description: fields.description,
        });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.architecture.localeCompare(b.architecture));
}

/** os-release fields (ID, VERSION_ID, PRETTY_NAME, …). */
export function parseOsRelease(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
        if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
    }
    return out;
}

export interface SbomSubject {
    /** host/repository */
    repository: string;
    digest: string;
    name: string;
    version: string;
}

const spdxId = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, "-");
const purlPart = (s: string) => encodeURIComponent(s);

/** Supplier in SPDX form from a Debian Maintainer field ("Name <mail>"). */
function supplier(maintainer: string | undefined): string {
    const m = maintainer && /^(.*?)\s*<([^>]+)>/.exec(maintainer);
    return m ? `Organization: ${m[1].replace(/[()]/g, "")} (${m[2]})` : "NOASSERTION";
}

/** An SPDX 2.3 document: the image as the described package, containing each installed package. */
export function spdxDocument(subject: SbomSubject, packages: DebPackage[], osRelease: Record<string, string>, created: Date): Record<string, unknown> {
    const distro = osRelease.ID ?? "debian";
    const distroQualifier = osRelease.VERSION_ID ? `&distro=${purlPart(`${distro}-${osRelease.VERSION_ID}`)}` : "";
    const hex = subject.digest.replace(/^sha256:/, "");
    const image = {
        SPDXID: "SPDXRef-Image",
        name: subject.repository,
        versionInfo: subject.version,
        downloadLocation: "NOASSERTION",
        filesAnalyzed: false,
        primaryPackagePurpose: "CONTAINER",
        checksums: [{ algorithm: "SHA256", checksumValue: hex }],
        externalRefs: [
            {
                referenceCategory: "PACKAGE-MANAGER",
                referenceType: "purl",
                referenceLocator: `pkg:oci/${purlPart(subject.name)}@${purlPart(subject.digest)}?repository_url=${purlPart(subject.repository)}`,
            },
        ],
        ...(osRelease.PRETTY_NAME ? { comment: `root filesystem: ${osRelease.PRETTY_NAME}` } : {}),
    };
    const ids = new Set<string>();
    const pkgs = packages.map((p) => {
        let id = `SPDXRef-Package-${distro}-${spdxId(p.name)}-${spdxId(p.architecture)}`;
        while (ids.has(id)) id += "-x";
        ids.add(id);
        return {
            SPDXID: id,
            name: p.name,
            versionInfo: p.version,
            supplier: supplier(p.maintainer),
            downloadLocation: "NOASSERTION",
            filesAnalyzed: false,
            licenseConcluded: "NOASSERTION",
            licenseDeclared: "NOASSERTION",
            copyrightText: "NOASSERTION",
            ...(p.homepage ? { homepage: p.homepage } : {}),
            ...(p.source && p.source !== p.name ? { sourceInfo: `built from the ${distro} source package ${p.source}` } : {}),
            ...(p.description ? { summary: p.description } : {}),
            primaryPackagePurpose: "INSTALL",
            externalRefs: [
                {
                    referenceCategory: "PACKAGE-MANAGER",
                    referenceType: "purl",
                    referenceLocator: `pkg:deb/${purlPart(distro)}/${purlPart(p.name)}@${purlPart(p.version)}?arch=${purlPart(p.architecture)}${distroQualifier}`,
                },
            ],
        };
    });
    return {
        spdxVersion: "SPDX-2.3",
        dataLicense: "CC0-1.0",
        SPDXID: "SPDXRef-DOCUMENT",
        name: `${subject.repository}@${subject.digest}`,
        documentNamespace: `https://image-factory.invalid/spdx/${subject.repository}/${hex}`,
        creationInfo: { created: created.toISOString().replace(/\.\d{3}Z$/, "Z"), creators: ["Tool: image-factory"] },
        documentDescribes: ["SPDXRef-Image"],
        packages: [image, ...pkgs],
        relationships: pkgs.map((p) => ({ spdxElementId: "SPDXRef-Image", relationshipType: "CONTAINS", relatedSpdxElement: p.SPDXID })),
    };
}

interface ImageManifestJson {
    mediaType?: string;
    manifests?: unknown[];
    layers?: Array<{ digest: string; mediaType: string }>;
}

/** `link` (relative) from the folder `dir`, as a path from the root. */
function resolveRelative(dir: string, link: string): string {
    const parts: string[] = [];
    for (const s of `${dir}/${link}`.split("/")) {
        if (s === "..") parts.pop();
        else if (s && s !== ".") parts.push(s);
    }
    return parts.join("/");
}

const normalize = (p: string) => p.replace(/^(\.\/|\/)+/, "").replace(/\/+$/, "");

/**
 * Reads regular files from an image's merged root filesystem, as a container
 * would see them: the top layer holding a path wins; a whiteout above hides
 * it. Symbolic links among `paths` are followed within the image. Returns the
 * files found (missing ones are absent).
 */
export async function readImageFiles(client: RegistryClient, repository: string, digest: string, paths: string[]): Promise<Map<string, Buffer>> {
    const m = await client.getManifest(repository, digest);
    if (!m) throw new Error(`${client.registry}/${repository}@${digest} is not in the registry`);
    const json = JSON.parse(m.body.toString("utf8")) as ImageManifestJson;
    if (json.manifests) throw new Error(`${client.registry}/${repository}@${digest} is an index; the SBOM is made per platform image`);
    const found = new Map<string, Buffer>();
    const alias = new Map(paths.map((p) => [normalize(p), normalize(p)]));
    let wanted = new Set(alias.values());
    const gone = new Set<string>();
    for (const layer of [...(json.layers ?? [])].reverse()) {
        if (wanted.size === 0) break;
        const links = new Map<string, string>();
        const hash = createHash("sha256");
        const parser = new Parser({
            onReadEntry: (entry: ReadEntry) => {
                const p = normalize(entry.path);
                const dir = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
                const base = p.slice(p.lastIndexOf("/") + 1);
                if (base.startsWith(".wh.")) {
                    // ".wh.name" deletes name; ".wh..wh..opq" hides everything below dir from lower layers.
                    for (const w of wanted) if (base === ".wh..wh..opq" ? w.startsWith(`${dir}/`) : w === (dir ? `${dir}/` : "") + base.slice(4)) gone.add(w);
                    entry.resume();
                    return;
                }
                if (!wanted.has(p) || found.has(p)) {
                    entry.resume();
                    return;
                }
                if (entry.type === "SymbolicLink" && entry.linkpath) {
                    const target = entry.linkpath.startsWith("/") ? normalize(entry.linkpath) : resolveRelative(dir, entry.linkpath);
                    links.set(p, target);
                    entry.resume();
                    return;
                }
                if (entry.type !== "File" && entry.type !== "OldFile" && entry.type !== "ContiguousFile") {
                    entry.resume();
                    return;
                }
                const chunks: Buffer[] = [];
                entry.on("data", (c: Buffer) => chunks.push(c));
                entry.on("end", () => found.set(p, Buffer.concat(chunks)));
            },
        });
        const body = Readable.fromWeb((await client.openBlob(repository, layer.digest)) as import("node:stream/web").ReadableStream<Uint8Array>);
        body.on("data", (c: Buffer) => hash.update(c));
        await pipeline(body, parser);
        if (`sha256:${hash.digest("hex")}` !== layer.digest) throw new Error(`${client.registry}/${repository} layer ${layer.digest}: content does not match its digest`);
        // A link: what it points at is looked for from here down (a link to a link is followed again).
        for (const [from, to] of links) for (const [r, a] of alias) if (a === from) alias.set(r, to);
        wanted = new Set([...alias.values()].filter((w) => !found.has(w) && !gone.has(w)));
    }
    const out = new Map<string, Buffer>();
    for (const [r, a] of alias) {
        const data = found.get(a);
        if (data && !gone.has(r)) out.set(r, data);
    }
    return out;
}

export interface ImageSbom {
    document: Record<string, unknown>;
    packages: DebPackage[];
}

/** The SPDX SBOM of an image in the registry, from its dpkg database. */
export async function imageSbom(client: RegistryClient, subject: SbomSubject, repository: string, created = new Date()): Promise<ImageSbom> {
    const files = await readImageFiles(client, repository, subject.digest, ["var/lib/dpkg/status", "etc/os-release", "usr/lib/os-release"]);
    const status = files.get("var/lib/dpkg/status");
    if (!status) {
        throw new Error(
            `${subject.repository}@${subject.digest}: no package database in the image (var/lib/dpkg/status); the SBOM is made from dpkg's database, so only Debian-family images are supported`,
        );
    }
    const osRelease = parseOsRelease((files.get("etc/os-release") ?? files.get("usr/lib/os-release") ?? Buffer.alloc(0)).toString("utf8"));
    const packages = parseDpkgStatus(status.toString("utf8"));
    return { document: spdxDocument(subject, packages, osRelease, created), packages };
}
