#!/usr/bin/env bash
# Everything `npm run up` and `npm test` need on a fresh machine, installed only
# when missing: Debian packages, npm packages, the Pulumi toolchain, the S3 server.
# Each step says what it does and how long it took. A failing step shows the
# tool's own last lines and the command to re-run; downloads from the package
# registries are retried with backoff; what a step installs counts as done only
# once the step succeeded, so an interrupted run resumes where it stopped.
#   usage: scripts/setup.sh [--for up|cluster|test]   (the toolchain's part; see scripts/toolchain.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# The tools' full output goes here (git-ignored); a failure shows its last lines.
LOG_DIR="$ROOT/.local/setup"
mkdir -p "$LOG_DIR"
STEPS=4
step_no=0
step_name=""
step() { # <name>
    step_no=$((step_no + 1))
    step_name="$1"
    step_started=$SECONDS
    say "[$step_no/$STEPS] $1"
}
step_done() { say "      $1 ($((SECONDS - step_started))s)"; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "\033[31m[image-factory] set-up stopped at step %s/%s (%s).\033[0m Fix the cause above, then re-run: npm run setup (it resumes where it stopped)\n" "$step_no" "$STEPS" "$step_name" >&2' EXIT

# Prints the last lines of a failed tool's log and stops.
fail_with_log() { # <what> <log> <rerun command>
    printf '\033[31m[image-factory] error:\033[0m %s; its last lines (full log: %s):\n' "$1" "${2#"$ROOT"/}" >&2
    tail -n 25 "$2" | sed 's/^/    | /' >&2
    printf '[image-factory] to retry just this step: %s\n' "$3" >&2
    exit 1
}

# Runs a download-heavy command; a failure whose log matches <transient> (the
# network, a busy lock, a mirror in sync) is retried after 5, 15 and 45 seconds.
retry() { # <what> <log> <transient regex> <rerun> <command...>
    local what="$1" log="$2" transient="$3" rerun="$4" delay=5 attempt=1 rc
    shift 4
    while :; do
        rc=0
        "$@" >"$log" 2>&1 || rc=$?
        [ $rc -ne 0 ] || return 0
        if [ $attempt -ge 4 ] || ! grep -Eqi -- "$transient" "$log"; then
            fail_with_log "$what failed (exit $rc$([ $attempt -gt 1 ] && echo ", attempt $attempt"))" "$log" "$rerun"
        fi
        say "      $what failed (exit $rc, attempt $attempt of 4): $(grep -Ei -- "$transient" "$log" | tail -n 1 | cut -c1-160); retrying in ${delay}s"
        sleep "$delay"
        delay=$((delay * 3))
        attempt=$((attempt + 1))
    done
}

# Tools the providers run: image builds (buildah, skopeo), a registry, root
# filesystems (mmdebstrap), disks (sgdisk, mkfs.xfs, mke2fs, qemu-img), squashfs,
# qemu-system-x86 to boot what is built (TCG; KVM guests hang here), iproute2 for
# the image tests' network namespaces, shellcheck for actionlint.
DEBIAN_PACKAGES=(buildah skopeo docker-registry mmdebstrap gdisk xfsprogs e2fsprogs qemu-utils squashfs-tools qemu-system-x86 iproute2 shellcheck ca-certificates openssh-server)
APT_TRANSIENT='Could not resolve|Temporary failure|Failed to fetch|Connection (failed|timed out|refused|reset)|Hash Sum mismatch|Could not get lock|Unable to acquire the dpkg|Mirror sync in progress|Undetermined Error|Network is unreachable|timed out'

step "Debian packages"
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    step_done "all ${#DEBIAN_PACKAGES[@]} installed"
else
    if [ "$(id -u)" -eq 0 ]; then
        apt=(apt-get)
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        apt=(sudo -n apt-get) # CI runners: passwordless sudo
    else
        die "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    export DEBIAN_FRONTEND=noninteractive
    # An earlier run killed mid-install leaves dpkg half-configured; finish that first.
    if [ -n "$(dpkg --audit 2>/dev/null)" ]; then
        say "      an earlier install was interrupted: dpkg --configure -a"
        retry "dpkg --configure -a" "$LOG_DIR/dpkg-configure.log" "$APT_TRANSIENT" "${apt[*]/apt-get/dpkg} --configure -a" \
            "${apt[@]/apt-get/dpkg}" --configure -a
    fi
    say "      installing ${missing[*]} (log: .local/setup/apt.log) ..."
    retry "apt-get update" "$LOG_DIR/apt-update.log" "$APT_TRANSIENT" "${apt[*]} update" \
        "${apt[@]}" update
    retry "apt-get install" "$LOG_DIR/apt.log" "$APT_TRANSIENT" "${apt[*]} install -y --no-install-recommends ${missing[*]}" \
        "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
    step_done "installed ${#missing[@]} packages"
fi

# npm packages: `npm ci` when package-lock.json changed since the last complete
# install. The stamp is removed first and written last, so a half-done
# node_modules (an interrupted run) is installed again; `npm ci` starts by
# deleting it.
NPM_TRANSIENT='ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|ECONNREFUSED|EPIPE|socket hang up|network|E5[0-9][0-9]|ERR_SOCKET|EINTEGRITY'
step "npm packages"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.image-factory-lock"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
    step_done "up to date with package-lock.json"
else
    rm -f "$stamp"
    say "      npm ci (log: .local/setup/npm.log) ..."
    retry "npm ci" "$LOG_DIR/npm.log" "$NPM_TRANSIENT" "npm ci" \
        npm ci --no-audit --no-fund --loglevel=warn
    echo "$lock_hash" >"$stamp.tmp" && mv -f "$stamp.tmp" "$stamp"
    step_done "installed from package-lock.json"
fi

step "Pulumi toolchain"
bash "$ROOT/scripts/toolchain.sh" "$@"
step_done "ready in ${TOOLCHAIN_DIR/#$HOME/\~}"

step "S3 server"
bash "$ROOT/scripts/s3-server.sh"
step_done "ready"
