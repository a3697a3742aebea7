//go:build tools

// Package toolchain pins the Kubernetes provider v4.25.0 (its module is served at the
// pseudo-version of the v4.25.0 commit) that scripts/toolchain.sh builds. The provider's
// own main.go embeds JSON files generated from the module's schema, and the module cache
// is read-only, so the build copies that main.go here and generates the files beside it;
// this file only keeps go.mod and go.sum listing everything that main.go imports.
package toolchain

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)
