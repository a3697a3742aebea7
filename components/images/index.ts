// The images package's public face: the catalog, site resolution, the build and
// release pipeline, and what the in-cluster pipeline is rendered from.
export { type Catalog, CatalogError, catalogSource, type ImageDefinition, lineage, loadCatalog, selectImages } from "./catalog";
export { checkCustomizations, type Customization, fileBytes, type ResolvedImage, resolveImages } from "./definition";
export { ImagePipeline, REFRESH_BASES_ENV, type RemoteBuilder, type RemoteBuildJob, refreshRequestedAt } from "./pipeline";
export { renderBlueprint } from "./render/blueprint";
export { renderKiwiRecipe } from "./render/kiwi";
export { renderTestScript } from "./render/test-script";
export { Customizations, ImageFile } from "./schema";
