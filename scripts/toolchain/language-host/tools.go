//go:build tools

// Package toolchain pins the Node.js language host that scripts/toolchain.sh
// builds. The module proxy these machines reach refuses every version of the
// host's own module (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// "403 This module version is not available"), so this builds the host from the
// newest sdk/v3 release that still carries it and that the proxy serves: v3.68.0.
// It speaks the LanguageRuntime protocol the v3.248.0 engine uses (the e2e tier
// proves it). go.sum is committed: the build checks pinned hashes offline.
package toolchain

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
