// Builds a catalog image (images/*.yaml, or a test catalog) exactly as the
// pipeline's ImageBuild does, and pushes it to a test registry: tests use what
// users get, not a hand-made stand-in.
import * as path from "node:path";
import { provider as buildProvider } from "../../components/images/build.provider";
import { cacheDir } from "../../components/cache";
import { loadCatalog } from "../../components/images/catalog";
import { resolveImages } from "../../components/images/definition";
import { contextInputs } from "../../components/images/pipeline";

/** The shared build storage, as the pipeline uses it. */
export const catalogStorage = () => path.join(cacheDir(), "containers");

/** Builds `name` from `catalogDir` on `parentRef` and pushes it to `<registry>/<repository>`; resolves with its ref by digest. */
export async function buildCatalogImage(registry: string, catalogDir: string, name: string, parentRef: string | null, repository = `test/${name}`): Promise<string> {
    const r = resolveImages(loadCatalog(catalogDir), [name]).get(name)!;
    const { outs } = await buildProvider.create({
        name,
        version: r.def.version,
        registry,
        repository,
        definitionHash: r.definitionHash,
        containerfile: r.containerfile,
        context: contextInputs(r.context),
        source: r.def.source ?? null,
        parentRef,
        storage: catalogStorage(),
        cacheDir: cacheDir(),
    });
    return outs.ref as string;
}
