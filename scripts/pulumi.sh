#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the project's Pulumi CLI with local defaults (a file
# backend in .local/state, no update checks, no plugin downloads). The `local`
# stack gets its documented passphrase; every other stack brings its own secrets.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PULUMI="$(pulumi_bin)" || die "no pulumi $PULUMI_VERSION found: run \`npm run setup\` first"
pulumi_env
cd "$ROOT"

# Which stack do the arguments name? (--stack X, --stack=X, -s X)
stack=""
prev=""
for a in "$@"; do
    case "$prev" in -s|--stack) stack="$a" ;; esac
    case "$a" in --stack=*) stack="${a#--stack=}" ;; esac
    prev="$a"
done
if [ -z "$stack" ] && [[ " up preview destroy refresh config stack import state cancel " == *" ${1:-} "* ]]; then
    stack="$("$PULUMI" stack --show-name 2>/dev/null || true)"
fi
if [ "$stack" = "local" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE="$LOCAL_STACK_PASSPHRASE"
fi
exec "$PULUMI" "$@"
