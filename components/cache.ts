// The one place that says where caches live: outside the clone, so that a fresh
// clone and CI reuse the toolchain, base rootfs and container storage.
// scripts/lib.sh follows the same rule for the shell scripts.
import * as os from "node:os";
import * as path from "node:path";

/** $IMAGE_FACTORY_CACHE, else $XDG_CACHE_HOME/image-factory, else ~/.cache/image-factory. */
export function cacheDir(): string {
    return process.env.IMAGE_FACTORY_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "image-factory");
}
