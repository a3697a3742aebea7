# Shared by the set-up scripts: where things live, and the Pulumi environment.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The Pulumi version, pinned in one place: .pulumi.version (the CLI built here or found on
# PATH, @pulumi/pulumi in package.json, the CLI's Go module and the pull-request workflow all
# follow it; test/unit/dependencies.test.ts checks that they agree).
PULUMI_VERSION="v$(tr -d '[:space:]' <"$ROOT/.pulumi.version")"
# Resource plugins, exactly the versions the npm SDKs in package.json ask for
# (test/unit/dependencies.test.ts checks that they agree).
COMMAND_PROVIDER_VERSION="1.2.1"
KUBERNETES_PROVIDER_VERSION="4.25.0"
# The local test cluster (scripts/services/kube.ts): etcd, kube-apiserver, kube-controller-manager.
KUBE_VERSION="v1.34.4"
ETCD_VERSION="v3.7.3"
# Caches live OUTSIDE the clone so that a fresh clone, CI's clone and later runs reuse them.
CACHE_DIR="${IMAGE_FACTORY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/image-factory}"
TOOLCHAIN_DIR="$CACHE_DIR/toolchain/$PULUMI_VERSION"
TOOLCHAIN_BIN="$TOOLCHAIN_DIR/bin"
# Tools not tied to the Pulumi version.
TOOLS_BIN="$CACHE_DIR/toolchain/tools"
# Resource plugins as built, one folder per plugin and version; `pulumi plugin install
# --file` copies each into Pulumi's plugin folder (${PULUMI_HOME:-~/.pulumi}/plugins).
PLUGINS_DIR="$CACHE_DIR/toolchain/plugins"
# The local cluster's binaries; scripts/services/kube.ts computes the same path.
KUBE_BIN="$CACHE_DIR/toolchain/kube-$KUBE_VERSION/bin"
# Upstream sources the module proxy refuses to serve (the language host, the command
# provider), kept outside the clone: $IMAGE_FACTORY_VENDOR, else the first shared/vendor
# folder beside the clone or one of its parents (/work/shared/vendor on these machines).
vendor_dir() {
    local dir
    if [ -n "${IMAGE_FACTORY_VENDOR:-}" ]; then
        echo "$IMAGE_FACTORY_VENDOR"
        return
    fi
    for dir in "$ROOT/.." "$ROOT/../.." "$ROOT/../../.." /work; do
        if [ -d "$dir/shared/vendor" ]; then
            (cd "$dir/shared/vendor" && pwd)
            return
        fi
    done
    return 1
}
# The S3 server (versitygw), pinned by scripts/toolchain/versitygw/go.mod; scripts/services/s3.ts
# computes the same path.
VERSITYGW_VERSION="$(sed -n 's|^require github.com/versity/versitygw \(v[^ ]*\)$|\1|p' "$ROOT/scripts/toolchain/versitygw/go.mod")"
S3_SERVER_BIN="$CACHE_DIR/toolchain/versitygw-$VERSITYGW_VERSION/versitygw"
# The passphrase of the `local` stack only. It guards nothing of value (a
# developer machine's demo stack); real sites use their own secrets provider.
LOCAL_STACK_PASSPHRASE="image-factory-local"

say() { printf '\033[1m[image-factory]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[image-factory] error:\033[0m %s\n' "$*" >&2; exit 1; }

# The pulumi to use: ours when we built it, else a $PULUMI_VERSION already on PATH.
pulumi_bin() {
    if [ -x "$TOOLCHAIN_BIN/pulumi" ]; then
        echo "$TOOLCHAIN_BIN/pulumi"
    elif command -v pulumi >/dev/null 2>&1 && [ "$(pulumi version 2>/dev/null)" = "$PULUMI_VERSION" ]; then
        command -v pulumi
    else
        return 1
    fi
}

# Local defaults for the Pulumi CLI; anything the caller already set wins.
pulumi_env() {
    export PATH="$TOOLCHAIN_BIN:$PATH"
    export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$ROOT/.local/state}"
    export PULUMI_SKIP_UPDATE_CHECK="${PULUMI_SKIP_UPDATE_CHECK:-true}"
    export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}"
    # Type checking is `npm run typecheck` (part of `npm test`); the engine only transpiles.
    export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
    if [[ "$PULUMI_BACKEND_URL" == file://"$ROOT"/.local/state ]]; then
        mkdir -p "$ROOT/.local/state"
    fi
}

# The path of one local cluster binary (etcd, kube-apiserver, kube-controller-manager).
kube_bin() { # <name>
    [ -x "$KUBE_BIN/$1" ] || die "$KUBE_BIN/$1 is missing: run \`bash scripts/toolchain.sh --for cluster\`"
    echo "$KUBE_BIN/$1"
}

need_go() { # <what>
    command -v go >/dev/null || die "Go is needed to build $1 (apt-get install golang, or see https://go.dev/dl)"
}

# The source a tool is built from: its wrapper module, hashed. A cached binary
# built from other source is rebuilt.
source_hash() { (cd "$1" && cat go.mod go.sum ./*.go 2>/dev/null) | sha256sum | cut -c1-16; }
up_to_date() { [ -x "$1" ] && [ "$(cat "$1.source" 2>/dev/null)" = "$(source_hash "$2")" ]; } # <binary> <module dir>

# Every file under the given folders and every further argument, hashed: the stamp of a
# tool built from more than its wrapper module (vendored sources, generated inputs, flags).
tree_hash() { # <dir>... [-- <string>...]
    local dirs=() d
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do dirs+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    {
        for d in "${dirs[@]}"; do
            (cd "$d" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        done
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}
# <binary> <stamp>: the binary exists and was built from the source the stamp names.
stamped() { [ -x "$1" ] && [ "$(cat "$1.source" 2>/dev/null)" = "$2" ]; }

# Go's own log of one build, kept whole; failures show its last lines.
BUILD_LOGS="$CACHE_DIR/logs"
# Scratch copies of modules that cannot be built where they are (vendored sources,
# generated inputs); recreated for every build.
BUILD_SCRATCH="$CACHE_DIR/build"

# Downloads the modules a wrapper module needs, retried with backoff: the module proxy
# sometimes fails a request. Verified against the committed go.sum (-mod=readonly).
go_download() { # <module dir> <log>
    local dir="$1" log="$2" attempt delay=5
    for attempt in 1 2 3 4; do
        if (cd "$dir" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go mod download) >>"$log" 2>&1; then
            return 0
        fi
        [ "$attempt" -eq 4 ] && break
        say "  module download failed (attempt $attempt of 4), retrying in ${delay}s: $(tail -n 1 "$log")"
        sleep "$delay"
        delay=$((delay * 3))
    done
    go_failed "downloading the modules of $dir" "$log" "cd $(printf %q "$dir") && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go mod download"
}

# Prints the last 40 lines of a tool's log (without the -v package list), where the whole
# log is, and the command that reproduces the failure; then exits.
go_failed() { # <what> <log> <command>
    printf '\033[31m[image-factory] error:\033[0m %s failed; its last lines:\n' "$1" >&2
    grep -v -E '^[^ :]+$|^go: downloading ' "$2" | tail -n 40 | sed 's/^/    /' >&2
    printf '  full log: %s\n  to re-run it: %s\n' "$2" "$3" >&2
    exit 1
}

# go build of one main package from a module with a committed go.sum (verified offline),
# under nice (the machine is shared), with a progress line every 40 packages compiled.
# Go's whole output goes to $BUILD_LOGS/<binary>.log. The binary is written under a temp
# name and renamed, so an interrupted build leaves nothing that looks finished; a re-run
# resumes from Go's build cache. The stamp (default: source_hash of the module) is
# written beside it as <binary>.source. $GO_BUILD_TAGS: more build tags.
go_build() { # <module dir> <output> <package> [ldflags] [stamp]
    local dir="$1" out="$2" pkg="$3" ldflags="${4:-}" stamp="${5:-}" started=$SECONDS
    local log="$BUILD_LOGS/$(basename "$out").log"
    mkdir -p "$(dirname "$out")" "$BUILD_LOGS"
    rm -f "$out.tmp"
    : >"$log"
    go_download "$dir" "$log"
    local cmd=(go build -v -buildvcs=false -tags "osusergo,grpcnotrace${GO_BUILD_TAGS:+,$GO_BUILD_TAGS}" -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
    local rerun
    rerun="cd $(printf %q "$dir") && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly $(printf '%q ' "${cmd[@]}")"
    # -v names each package as it is compiled: the progress count. (`|| rc=$?`: under
    # `set -e -o pipefail` a failed build must still reach the report below.)
    local rc=0
    (cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly nice -n 10 "${cmd[@]}" 2>&1) | tee -a "$log" |
        awk '/^[^ :]+$/ {n++; if (n % 40 == 0) printf "    ... %d packages compiled\n", n > "/dev/stderr"}' || rc=$?
    if [ "$rc" -ne 0 ] || [ ! -x "$out.tmp" ]; then
        rm -f "$out.tmp"
        go_failed "go build of $(basename "$out") ($pkg)" "$log" "$rerun"
    fi
    mv -f "$out.tmp" "$out"
    if [ -n "$stamp" ]; then echo "$stamp"; else source_hash "$dir"; fi > "$out.source"
    say "  built $(basename "$out") in $((SECONDS - started))s (log: $log)"
}
