//go:build tools

// Package toolchain pins actionlint, which the tests run on .github/workflows.
// go.sum is committed: the build checks pinned hashes offline.
package toolchain

import _ "github.com/rhysd/actionlint/cmd/actionlint"
