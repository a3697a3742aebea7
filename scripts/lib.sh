# Shared by the set-up scripts: where things live, and the Pulumi environment.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PULUMI_VERSION="v3.248.0"
COMMAND_PROVIDER_VERSION="1.2.1"
# Caches live OUTSIDE the clone so that a fresh clone, CI's clone and later runs reuse them.
CACHE_DIR="${IMAGE_FACTORY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/image-factory}"
TOOLCHAIN_DIR="$CACHE_DIR/toolchain/$PULUMI_VERSION"
TOOLCHAIN_BIN="$TOOLCHAIN_DIR/bin"
# Tools not tied to the Pulumi version.
TOOLS_BIN="$CACHE_DIR/toolchain/tools"
# The S3 server (versitygw), pinned by scripts/toolchain/versitygw/go.mod; scripts/services/s3.ts
# computes the same path.
VERSITYGW_VERSION="$(sed -n 's|^require github.com/versity/versitygw \(v[^ ]*\)$|\1|p' "$ROOT/scripts/toolchain/versitygw/go.mod")"
S3_SERVER_BIN="$CACHE_DIR/toolchain/versitygw-$VERSITYGW_VERSION/versitygw"
# The passphrase of the `local` stack only. It guards nothing of value (a
# developer machine's demo stack); real sites use their own secrets provider.
LOCAL_STACK_PASSPHRASE="image-factory-local"

say() { printf '\033[1m[image-factory]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[image-factory] error:\033[0m %s\n' "$*" >&2; exit 1; }

# The pulumi to use: ours when we built it, else a v3.248.0 already on PATH.
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

need_go() { # <what>
    command -v go >/dev/null || die "Go is needed to build $1 (apt-get install golang, or see https://go.dev/dl)"
}

# The source a tool is built from: its wrapper module, hashed. A cached binary
# built from other source is rebuilt.
source_hash() { (cd "$1" && cat go.mod go.sum ./*.go 2>/dev/null) | sha256sum | cut -c1-16; }
up_to_date() { [ -x "$1" ] && [ "$(cat "$1.source" 2>/dev/null)" = "$(source_hash "$2")" ]; } # <binary> <module dir>

# go build from a wrapper module with a committed go.sum (verified offline), a progress
# line every 40 packages compiled; writes to a temp name, then renames.
go_build() { # <module dir> <output> <package> [ldflags]
    local dir="$1" out="$2" pkg="$3" ldflags="${4:-}" started=$SECONDS
    mkdir -p "$(dirname "$out")"
    (cd "$dir" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly \
        go build -v -tags osusergo,grpcnotrace -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg" 2>&1) |
        awk '/^go: downloading/ {d++; next} {n++; if (n % 40 == 0) printf "    ... %d packages compiled\n", n > "/dev/stderr"} END {if (d) printf "    (%d modules downloaded)\n", d > "/dev/stderr"}'
    [ "${PIPESTATUS[0]}" -eq 0 ] && [ -x "$out.tmp" ] || { rm -f "$out.tmp"; die "building $pkg failed (see above)"; }
    mv -f "$out.tmp" "$out"
    source_hash "$dir" > "$out.source"
    say "  built $(basename "$out") in $((SECONDS - started))s"
}
