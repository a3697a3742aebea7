//go:build tools

// Package toolchain pins the Pulumi CLI that scripts/toolchain.sh builds when no
// pulumi v3.248.0 is on PATH. go.sum is committed so that the build verifies every
// module against pinned hashes without reaching the checksum database.
package toolchain

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
