#!/usr/bin/env bash
# `npm run test:e2e [-- <files>]`: the e2e tier in its two lanes side by side (see
# vitest.config.mts, which splits the files by measured time): e2e-images (the qemu boots, the
# fleet's fresh bootstraps, the signed builds) and e2e (the rest). Two vitest runs,
# because one run gives every project of a group the same worker count. Exit status: 0 only
# when both lanes pass.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npx vitest run --project e2e-images --passWithNoTests "$@" &
images=$!
npx vitest run --project e2e --passWithNoTests "$@"
rest=$?
wait "$images"
imaged=$?
[ "$imaged" -eq 0 ] && [ "$rest" -eq 0 ]
