// policy-check: does a device accept this image? It evaluates a containers
// signature policy (policy.json + registries.d) for an image in a registry with
// containers/image, the library podman, skopeo and bootc use to decide before
// they pull. The tests run it as the device would; Debian's skopeo is built
// without sigstore verification ("sigstore disabled").
//
//	policy-check <policy.json> <registries.d> <host/repo[:tag|@digest]>
//
// Exit 0 and "accepted: …" when the policy allows the image; exit 1 and
// "refused: <containers/image's reason>" when it does not.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/image"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/types"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: policy-check <policy.json> <registries.d> <host/repo[:tag|@digest]>")
		os.Exit(2)
	}
	if err := check(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "refused:", err)
		os.Exit(1)
	}
	fmt.Println("accepted:", os.Args[3])
}

func check(policyPath, registriesD, ref string) error {
	ctx := context.Background()
	// Loopback test registries speak plain HTTP.
	sys := &types.SystemContext{RegistriesDirPath: registriesD, DockerInsecureSkipTLSVerify: types.OptionalBoolTrue}
	policy, err := signature.NewPolicyFromFile(policyPath)
	if err != nil {
		return err
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return err
	}
	defer func() { _ = pc.Destroy() }()
	r, err := docker.ParseReference("//" + ref)
	if err != nil {
		return err
	}
	src, err := r.NewImageSource(ctx, sys)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	allowed, err := pc.IsRunningImageAllowed(ctx, image.UnparsedInstance(src, nil))
	if err != nil {
		return err
	}
	if !allowed {
		return fmt.Errorf("the policy does not allow %s", ref)
	}
	return nil
}
