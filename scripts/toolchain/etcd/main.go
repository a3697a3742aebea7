// etcd v3.7.3, the store of the local test cluster's API server (scripts/services/kube.ts),
// built by scripts/toolchain.sh from its published server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
