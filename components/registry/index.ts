// The registry package's public face: the site registry on the ACP, mirroring
// from a hub, and image references and credentials.
export { authJson, isLoopback, parseRef, type RegistryAuth } from "./client";
export { ImageRegistry } from "./image-registry";
export { RegistryMirror } from "./mirror";
export { REGISTRY_MODES, type RegistryMode } from "./render";
