//go:build tools

// Package toolchain pins versitygw, the S3 server that `npm run up` and the tests
// start on loopback (scripts/services/s3.ts). scripts/s3-server.sh builds it into
// the cache outside the clone. go.sum is committed so that the build verifies
// every module against pinned hashes without reaching the checksum database.
package toolchain

import _ "github.com/versity/versitygw/cmd/versitygw"
