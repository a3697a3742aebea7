//go:build tools

// Package toolchain pins the command provider v1.2.1 that scripts/toolchain.sh builds.
// The module proxy refuses github.com/pulumi/pulumi-command/provider, so its source comes
// from the vendored snapshot ($IMAGE_FACTORY_VENDOR/pulumi-command-provider), which the
// build copies to ./provider beside this module (hence the replace); every other module
// comes from the module proxy, verified against the committed go.sum.
package toolchain

import _ "github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command"
