// A real bootable image for tests: a Debian bookworm rootfs with linux-image-amd64
// and initramfs-tools whose initrd can mount a squashfs root (mmdebstrap, cached
// outside the clone since it takes about 3 minutes), imported with buildah
// (FROM scratch + ADD rootfs.tar /) and pushed to the given registry.
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { cacheDir } from "../../components/cache";
import { run } from "../../components/exec";
import { withTempDir } from "../../components/temp-dir";

const rootfsCache = () => path.join(cacheDir(), "test-rootfs");

/** The cached rootfs tar, made with mmdebstrap when missing (temp name, then rename). */
export async function bookwormKernelRootfs(): Promise<string> {
    const tar = path.join(rootfsCache(), "bookworm-kernel-squashfs.tar");
    if (await fs.stat(tar).then(() => true, () => false)) return tar;
    await fs.mkdir(rootfsCache(), { recursive: true });
    const tmp = `${tar}.${process.pid}.tmp`;
    try {
        // mmdebstrap runs its hooks with sh; these are fixed strings. The initrd gets the
        // squashfs module so that the published set can boot with root=<the squashfs>.
        const hooks = ['echo squashfs >> "$1/etc/initramfs-tools/modules"', 'chroot "$1" update-initramfs -u -k all'];
        const args = ["--variant=apt", "--include=linux-image-amd64,initramfs-tools", ...hooks.map((h) => `--customize-hook=${h}`), "--format=tar"];
        await run("mmdebstrap", [...args, "bookworm", tmp, "http://deb.debian.org/debian"], {
            timeoutMs: 20 * 60_000,
        });
        await fs.rename(tmp, tar);
    } finally {
        await fs.rm(tmp, { force: true });
    }
    return tar;
}

/** Builds the image from the rootfs and pushes it to `<registry>/<repository>:<tag>`; resolves with `<registry>/<repository>@sha256:…`. */
export async function pushBootableImage(registry: string, repository: string, tag = "1.0.0"): Promise<string> {
    const rootfs = await bookwormKernelRootfs();
    return withTempDir("if-bootable-", async (dir) => {
        const buildah = (args: string[]) =>
            run("buildah", ["--root", path.join(dir, "root"), "--runroot", path.join(dir, "run"), "--storage-driver", "vfs", ...args], { timeoutMs: 20 * 60_000 });
        await fs.copyFile(rootfs, path.join(dir, "rootfs.tar"));
        await fs.writeFile(path.join(dir, "Containerfile"), "FROM scratch\nADD rootfs.tar /\n");
        await buildah(["build", "--isolation", "chroot", "--layers=false", "-t", "bootable", "-f", path.join(dir, "Containerfile"), dir]);
        const digestFile = path.join(dir, "digest");
        await buildah(["push", "--tls-verify=false", "--digestfile", digestFile, "bootable", `docker://${registry}/${repository}:${tag}`]);
        await buildah(["rmi", "--all", "--force"]);
        return `${registry}/${repository}@${(await fs.readFile(digestFile, "utf8")).trim()}`;
    });
}
