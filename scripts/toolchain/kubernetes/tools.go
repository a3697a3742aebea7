//go:build tools

// Package toolchain pins the Kubernetes API server and controller manager v1.34.4 that
// scripts/toolchain.sh builds for the local test cluster (scripts/services/kube.ts).
// go.sum is committed so that the build verifies every module offline.
package toolchain

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
