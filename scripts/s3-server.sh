#!/usr/bin/env bash
# The S3 server that `npm run up` (when the local stack enables the artifact store)
# and the tests start on loopback: versitygw with its POSIX backend, built from Go
# modules (scripts/toolchain/versitygw, go.sum committed) into the cache outside
# the clone, only when missing. A run with the cache present takes milliseconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -n "$VERSITYGW_VERSION" ] || die "scripts/toolchain/versitygw/go.mod does not pin github.com/versity/versitygw"
if ! up_to_date "$S3_SERVER_BIN" "$ROOT/scripts/toolchain/versitygw"; then
    need_go "the S3 server"
    say "building the S3 server versitygw $VERSITYGW_VERSION from Go modules (first run only; about a minute) ..."
    go_build "$ROOT/scripts/toolchain/versitygw" "$S3_SERVER_BIN" github.com/versity/versitygw/cmd/versitygw \
        "-X main.Version=$VERSITYGW_VERSION -X main.Build=go-module"
fi
