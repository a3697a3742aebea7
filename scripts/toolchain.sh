#!/usr/bin/env bash
# The Pulumi toolchain, built from Go modules into a cache outside the clone
# ($IMAGE_FACTORY_CACHE, default ~/.cache/image-factory/toolchain/v3.248.0):
#   pulumi                         the CLI, github.com/pulumi/pulumi/pkg/v3 v3.248.0
#   pulumi-language-nodejs         the Node.js language host (see language-host/main.go)
#   pulumi-resource-pulumi-nodejs  the dynamic provider host: node on @pulumi/pulumi/cmd/dynamic-provider
#   the command provider v1.2.1    probed only: its module is not served here (see step 4)
# With a pulumi v3.248.0 already on PATH, the CLI is not built. A run with the cache present takes seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$TOOLCHAIN_BIN"
need_go "the Pulumi toolchain"

# 1. The CLI
if up_to_date "$TOOLCHAIN_BIN/pulumi" "$ROOT/scripts/toolchain/pulumi-cli"; then
    :
elif command -v pulumi >/dev/null 2>&1 && [ "$(pulumi version 2>/dev/null)" = "$PULUMI_VERSION" ]; then
    say "using pulumi $PULUMI_VERSION from PATH ($(command -v pulumi))"
else
    say "building the Pulumi CLI $PULUMI_VERSION from Go modules (first run only; several minutes) ..."
    go_build "$ROOT/scripts/toolchain/pulumi-cli" "$TOOLCHAIN_BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
fi

# 2. The Node.js language host: this project's own (scripts/toolchain/language-host/main.go
#    says why), against sdk/v3 v3.248.0. It also serves a pulumi found on PATH.
if ! up_to_date "$TOOLCHAIN_BIN/pulumi-language-nodejs" "$ROOT/scripts/toolchain/language-host"; then
    say "building the Node.js language host against sdk/v3 $PULUMI_VERSION ..."
    go_build "$ROOT/scripts/toolchain/language-host" "$TOOLCHAIN_BIN/pulumi-language-nodejs" . \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
fi

# 3. The shim the engine starts as the host of dynamic providers. It runs the
#    program's own @pulumi/pulumi (resolved from the plugin's working directory,
#    the program folder), so one shim serves every project and version. (Policy
#    packs need no shim: the language host runs them through RunPlugin.)
write_shim() { # <name> <module>
    local file="$TOOLCHAIN_BIN/$1"
    local body="#!/bin/sh
# Written by image-factory scripts/toolchain.sh: runs $2 from the program's node_modules.
entry=\$(node -p 'require.resolve(process.argv[1], { paths: [process.cwd()] })' '$2') || exit 1
exec node \"\$entry\" \"\$@\""
    if [ ! -x "$file" ] || [ "$(cat "$file")" != "$body" ]; then
        printf '%s\n' "$body" > "$file.tmp" && chmod 755 "$file.tmp" && mv -f "$file.tmp" "$file"
    fi
}
write_shim pulumi-resource-pulumi-nodejs @pulumi/pulumi/cmd/dynamic-provider
rm -f "$TOOLCHAIN_BIN/pulumi-analyzer-policy" # an earlier toolchain's shim, superseded by RunPlugin

# 4. The command provider, plugin `command` v1.2.1. Its module (github.com/pulumi/pulumi-command/provider)
#    is refused by the module proxy these machines reach, at every version, so it cannot be built
#    here. Probe once per run and say so; a plugin installed by other means is used as it is.
PULUMI="$(pulumi_bin)"
pulumi_env
if ! "$PULUMI" plugin ls 2>/dev/null | grep -Eq "^command +resource +$COMMAND_PROVIDER_VERSION "; then
    mod="github.com/pulumi/pulumi-command/provider@v0.0.0-20260304002345-f0839b236d7b" # the v1.2.1 commit
    why=$(cd "$TOOLCHAIN_DIR" && go mod download -json "$mod" 2>&1 | sed -n 's/.*"Error": "\(.*\)".*/\1/p' | sed 's/\\n\\t/ /g' | head -1 || true)
    say "command provider v$COMMAND_PROVIDER_VERSION not installed; go mod download $mod: ${why:-served, but no build is pinned for it}"
    say "  (@pulumi/command resources cannot be deployed on this machine; everything else works)"
fi

# 5. actionlint, which the tests run on .github/workflows (not tied to the Pulumi version).
if ! up_to_date "$TOOLS_BIN/actionlint" "$ROOT/scripts/toolchain/actionlint"; then
    say "building actionlint from Go modules ..."
    go_build "$ROOT/scripts/toolchain/actionlint" "$TOOLS_BIN/actionlint" github.com/rhysd/actionlint/cmd/actionlint
fi
