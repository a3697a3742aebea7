#!/usr/bin/env bash
# Everything `npm run up` and `npm test` need on a fresh machine, installed only
# when missing: Debian packages, npm packages, the Pulumi toolchain.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Tools the providers run: image builds (buildah, skopeo), a registry, root
# filesystems (mmdebstrap), disks (sgdisk, mkfs.xfs, mke2fs, qemu-img), squashfs,
# qemu-system-x86 to boot what is built (TCG; KVM guests hang here), iproute2 for
# the image tests' network namespaces, shellcheck for actionlint.
DEBIAN_PACKAGES=(buildah skopeo docker-registry mmdebstrap gdisk xfsprogs e2fsprogs qemu-utils squashfs-tools qemu-system-x86 iproute2 shellcheck ca-certificates openssh-server)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt=(apt-get)
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        apt=(sudo -n apt-get) # CI runners: passwordless sudo
    else
        die "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: `npm ci` when package-lock.json changed since the last install.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.image-factory-lock"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    say "installing npm packages (npm ci) ..."
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_hash" > "$stamp"
fi

bash "$ROOT/scripts/toolchain.sh"
bash "$ROOT/scripts/s3-server.sh"
