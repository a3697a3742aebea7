#!/usr/bin/env bash
# The toolchain, built from Go modules and vendored upstream sources into a cache outside
# the clone ($IMAGE_FACTORY_CACHE, default ~/.cache/image-factory/toolchain), each piece
# only when missing or built from other source (a stamp beside each binary):
#
#   usage: scripts/toolchain.sh [--for up|cluster|test]
#     up       the Pulumi CLI (the version in .pulumi.version) and the Node.js language host: what `npm run up`
#              (the local stack) needs
#     cluster  and the kubernetes 4.25.0 and command 1.2.1 plugins, and etcd, kube-apiserver
#              and kube-controller-manager for the local cluster: roles acp and hub
#     test     (the default) and actionlint: everything `npm test` needs
#
# With that pulumi version already on PATH (an official install), it is used as it is: no CLI,
# no language host, and plugins come from `pulumi plugin install` when it can download them.
# A run with the cache present takes a second or two. docs/toolchain.md says more.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=test
while [ $# -gt 0 ]; do
    case "$1" in
        --for) target="${2:-}"; shift 2 ;;
        --for=*) target="${1#--for=}"; shift ;;
        *) die "scripts/toolchain.sh: unknown argument '$1' (usage: scripts/toolchain.sh [--for up|cluster|test])" ;;
    esac
done
case "$target" in up|cluster|test) ;; *) die "scripts/toolchain.sh: --for takes up, cluster or test, not '$target'" ;; esac

# One run at a time per cache: a second one (another clone, a parallel test run) waits,
# then finds the pieces built.
mkdir -p "$CACHE_DIR/toolchain"
exec 9>"$CACHE_DIR/toolchain/.lock"
if ! flock -n 9; then
    say "another scripts/toolchain.sh is building into $CACHE_DIR/toolchain; waiting for it ..."
    flock 9
fi

MODULES="$ROOT/scripts/toolchain"
need_vendor() { # <folder> <what>
    local dir
    dir="$(vendor_dir)" && [ -d "$dir/$1" ] ||
        die "$2 is built from the vendored upstream source '$1', not found (looked in \$IMAGE_FACTORY_VENDOR and shared/vendor beside the clone): set IMAGE_FACTORY_VENDOR to the folder holding $1"
    echo "$dir/$1"
}

# 1. The CLI and the language host, unless an official pulumi $PULUMI_VERSION is on PATH.
official=""
if path_pulumi="$(command -v pulumi)" && [ "$path_pulumi" != "$TOOLCHAIN_BIN/pulumi" ] &&
    [ "$("$path_pulumi" version 2>/dev/null)" = "$PULUMI_VERSION" ]; then
    official="$path_pulumi"
    say "using pulumi $PULUMI_VERSION from PATH ($official) and its language host"
else
    need_go "the Pulumi toolchain"
    if ! up_to_date "$TOOLCHAIN_BIN/pulumi" "$MODULES/pulumi-cli"; then
        say "building the Pulumi CLI $PULUMI_VERSION from Go modules (first run only; about 15 minutes) ..."
        go_build "$MODULES/pulumi-cli" "$TOOLCHAIN_BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
            "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
    fi

    # Pulumi's own Node.js language host $PULUMI_VERSION (the one the official CLI ships), from the
    # vendored source: its module is not served here. Built in a scratch copy (the source
    # stays read-only) with the CLI's flags, so it reuses the CLI's compiled packages from
    # Go's build cache.
    host_src="$(need_vendor pulumi-language-nodejs "the Node.js language host")"
    host_ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
    host_stamp="$(tree_hash "$host_src" -- "$host_ldflags")"
    if ! stamped "$TOOLCHAIN_BIN/pulumi-language-nodejs" "$host_stamp"; then
        say "building the Node.js language host $PULUMI_VERSION from $host_src ..."
        rm -rf "$BUILD_SCRATCH/language-host"
        mkdir -p "$BUILD_SCRATCH"
        cp -r "$host_src" "$BUILD_SCRATCH/language-host"
        go_build "$BUILD_SCRATCH/language-host" "$TOOLCHAIN_BIN/pulumi-language-nodejs" . "$host_ldflags" "$host_stamp"
        rm -rf "$BUILD_SCRATCH/language-host"
    fi
    rm -f "$TOOLCHAIN_BIN/pulumi-analyzer-policy" # an old toolchain's shim; the host runs policy packs

    # The engine starts `pulumi-resource-pulumi-nodejs` (found beside the CLI) to host dynamic
    # providers. The official CLI ships @pulumi/pulumi's own script of that name; so do we.
    shim="$ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
    if [ -f "$shim" ]; then
        cmp -s "$shim" "$TOOLCHAIN_BIN/pulumi-resource-pulumi-nodejs" ||
            install -m 755 "$shim" "$TOOLCHAIN_BIN/pulumi-resource-pulumi-nodejs"
    else
        say "node_modules/@pulumi/pulumi is not installed yet: dynamic providers need \`npm ci\` and a re-run of this script"
    fi
fi
[ "$target" = up ] && exit 0

# What only the tests and the acp/hub roles need has a lock of its own, taken before the first
# one is let go: an `npm run up` never waits for another run's cluster builds.
exec 8>"$CACHE_DIR/toolchain/.lock-cluster"
if ! flock -n 8; then
    say "another scripts/toolchain.sh is building the cluster and test pieces into $CACHE_DIR/toolchain; waiting for it ..."
    flock 8
fi
flock -u 9

PULUMI="$(pulumi_bin)"
pulumi_env
PLUGIN_HOME="${PULUMI_HOME:-$HOME/.pulumi}/plugins"

# Installs a resource plugin we built (when Pulumi's plugin folder lacks this very binary).
install_plugin() { # <name> <version> <binary>
    if ! cmp -s "$3" "$PLUGIN_HOME/resource-$1-v$2/pulumi-resource-$1"; then
        "$PULUMI" plugin install resource "$1" "$2" --file "$3" --reinstall >/dev/null ||
            die "pulumi plugin install resource $1 $2 --file $3 failed (see above)"
        say "  installed plugin $1 $2 into $PLUGIN_HOME"
    fi
}
# A plugin already installed the usual way (not by us) is used as it is.
plugin_installed() { [ -x "$PLUGIN_HOME/resource-$1-v$2/pulumi-resource-$1" ]; } # <name> <version>
ours() { [ -x "$1" ]; } # <cached binary>: we built this plugin before (then we keep it current)

# 2. The kubernetes provider 4.25.0 (the version npm @pulumi/kubernetes 4.25.0 asks for) from its
#    served module. Its main.go embeds two JSON files generated from the module's schema.json, and
#    the module cache is read-only: the build copies that main.go into a scratch copy of the
#    wrapper module and generates the files beside it, as the provider's own generate.go does.
k8s_out="$PLUGINS_DIR/kubernetes-$KUBERNETES_PROVIDER_VERSION/pulumi-resource-kubernetes"
k8s_ldflags="-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION"
k8s_stamp="$(tree_hash "$MODULES/kubernetes-provider" -- "$k8s_ldflags")"
if plugin_installed kubernetes "$KUBERNETES_PROVIDER_VERSION" && ! ours "$k8s_out"; then
    :
elif [ -n "$official" ] && "$PULUMI" plugin install resource kubernetes "$KUBERNETES_PROVIDER_VERSION" >/dev/null 2>&1; then
    say "installed plugin kubernetes $KUBERNETES_PROVIDER_VERSION with pulumi plugin install"
else
    if ! stamped "$k8s_out" "$k8s_stamp"; then
        need_go "the kubernetes provider"
        say "building the kubernetes provider $KUBERNETES_PROVIDER_VERSION from Go modules (first run only; about 15 minutes) ..."
        scratch="$BUILD_SCRATCH/kubernetes-provider"
        rm -rf "$scratch"
        mkdir -p "$scratch" "$BUILD_LOGS"
        cp "$MODULES/kubernetes-provider/go.mod" "$MODULES/kubernetes-provider/go.sum" "$scratch/"
        go_download "$scratch" "$BUILD_LOGS/pulumi-resource-kubernetes.log"
        upstream="$(cd "$scratch" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes"
        install -m 644 "$upstream/main.go" "$scratch/main.go"
        node -e '
            const fs = require("node:fs");
            const [dir, out, version] = process.argv.slice(1);
            const schema = JSON.parse(fs.readFileSync(`${dir}/schema.json`, "utf8"));
            schema.version = version;
            fs.writeFileSync(`${out}/schema-embed.json`, JSON.stringify(schema));
            fs.writeFileSync(`${out}/terraform-mapping-embed.json`, JSON.stringify(JSON.parse(fs.readFileSync(`${dir}/terraform-mapping.json`, "utf8"))));
        ' "$upstream" "$scratch" "$KUBERNETES_PROVIDER_VERSION"
        go_build "$scratch" "$k8s_out" . "$k8s_ldflags" "$k8s_stamp"
        rm -rf "$scratch"
    fi
    install_plugin kubernetes "$KUBERNETES_PROVIDER_VERSION" "$k8s_out"
fi

# 3. The local cluster: kube-apiserver and kube-controller-manager v1.34.4 (without the controller
#    manager, namespace deletion and foreground deletion never finish), and etcd v3.7.3.
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=$(echo "$KUBE_VERSION" | cut -d. -f1 | tr -d v) -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
kube_stamp="$(tree_hash "$MODULES/kubernetes" -- "$kube_ldflags")"
for cmd in kube-apiserver kube-controller-manager; do
    if ! stamped "$KUBE_BIN/$cmd" "$kube_stamp"; then
        need_go "$cmd"
        say "building $cmd $KUBE_VERSION from Go modules (first run only; $([ $cmd = kube-apiserver ] && echo "about 10 minutes" || echo "a few minutes more")) ..."
        go_build "$MODULES/kubernetes" "$KUBE_BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd" "$kube_ldflags" "$kube_stamp"
    fi
done

# 4. The command provider 1.2.1, from the vendored source (its module is not served here), through
#    a wrapper module that replaces it with ./provider: a scratch copy of that source.
cmd_out="$PLUGINS_DIR/command-$COMMAND_PROVIDER_VERSION/pulumi-resource-command"
if plugin_installed command "$COMMAND_PROVIDER_VERSION" && ! ours "$cmd_out"; then
    :
elif [ -n "$official" ] && "$PULUMI" plugin install resource command "$COMMAND_PROVIDER_VERSION" >/dev/null 2>&1; then
    say "installed plugin command $COMMAND_PROVIDER_VERSION with pulumi plugin install"
else
    cmd_src="$(need_vendor pulumi-command-provider "the command provider")"
    cmd_ldflags="-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$COMMAND_PROVIDER_VERSION"
    cmd_stamp="$(tree_hash "$MODULES/command-provider" "$cmd_src" -- "$cmd_ldflags")"
    if ! stamped "$cmd_out" "$cmd_stamp"; then
        need_go "the command provider"
        say "building the command provider $COMMAND_PROVIDER_VERSION from $cmd_src (first run only; a few minutes) ..."
        scratch="$BUILD_SCRATCH/command-provider"
        rm -rf "$scratch"
        mkdir -p "$scratch"
        cp "$MODULES/command-provider/go.mod" "$MODULES/command-provider/go.sum" "$scratch/"
        cp -r "$cmd_src" "$scratch/provider"
        go_build "$scratch" "$cmd_out" github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command "$cmd_ldflags" "$cmd_stamp"
        rm -rf "$scratch"
    fi
    install_plugin command "$COMMAND_PROVIDER_VERSION" "$cmd_out"
fi

etcd_stamp="$(tree_hash "$MODULES/etcd" -- "-s -w")"
if ! stamped "$KUBE_BIN/etcd" "$etcd_stamp"; then
    need_go "etcd"
    say "building etcd $ETCD_VERSION from Go modules (first run only; a minute or two) ..."
    go_build "$MODULES/etcd" "$KUBE_BIN/etcd" . "-s -w" "$etcd_stamp"
fi
[ "$target" = cluster ] && exit 0

# 5. actionlint, which the tests run on .github/workflows (not tied to the Pulumi version).
if ! up_to_date "$TOOLS_BIN/actionlint" "$MODULES/actionlint"; then
    need_go "actionlint"
    say "building actionlint from Go modules ..."
    go_build "$MODULES/actionlint" "$TOOLS_BIN/actionlint" github.com/rhysd/actionlint/cmd/actionlint
fi

# 6. policy-check: containers/image's signature policy evaluation, as a device runs it
#    (the supply-chain tests; Debian's skopeo is built with sigstore verification disabled).
if ! up_to_date "$TOOLS_BIN/policy-check" "$ROOT/scripts/toolchain/policy-check"; then
    need_go "policy-check"
    say "building policy-check (containers/image) from Go modules ..."
    GO_BUILD_TAGS=containers_image_openpgp go_build "$ROOT/scripts/toolchain/policy-check" "$TOOLS_BIN/policy-check" .
fi
