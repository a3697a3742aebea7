// Composes the site's components for its role. Data flows one way:
// config → components → outputs; nothing in components/ imports infra/.
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { defaultCacheDir } from "../components/images/buildah";
import { loadCatalog, selectImages } from "../components/images/catalog";
import { resolveImages } from "../components/images/definition";
import { ImagePipeline } from "../components/images/pipeline";
import type { SiteConfig } from "./config";
import type { SiteResult } from "./outputs";

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

export function deploySite(config: SiteConfig): SiteResult {
    const root = projectRoot();
    // Validate the whole catalog and the site's selection before registering anything.
    const catalog = loadCatalog(path.resolve(root, config.images.catalog));
    const names = selectImages(catalog, config.images.select, "image-factory:images.select");
    const resolved = resolveImages(catalog, names, config.images.customizations);
    const cacheDir = defaultCacheDir();
    const auth = config.registry.username && config.registry.password
        ? config.registry.password.apply((password) => ({ username: config.registry.username!, password }))
        : undefined;

    const pipeline = new ImagePipeline("images", {
        images: resolved,
        registry: config.registry.url,
        namespace: config.registry.namespace,
        auth: auth && pulumi.secret(auth),
        channel: config.images.channel,
        pins: config.images.pins,
        storage: config.builder.storage ?? path.join(cacheDir, "containers"),
        cacheDir,
    });
    return { images: pipeline.released };
}
