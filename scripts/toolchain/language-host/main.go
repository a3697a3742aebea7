// pulumi-language-nodejs: the Node.js language host the engine starts to run
// a program (Run) or a Node.js plugin such as a policy pack (RunPlugin).
//
// Why this exists: the module proxy these machines reach refuses every version
// of Pulumi's own host module (github.com/pulumi/pulumi/sdk/nodejs/cmd/
// pulumi-language-nodejs/v3). The newest host it serves (inside sdk/v3 v3.68.0)
// predates RunPlugin, the tsconfig option and --root-directory, so policy packs
// could not run. This host implements the LanguageRuntime protocol of sdk/v3
// v3.248.0 itself, and runs the program's own @pulumi/pulumi entry points
// (cmd/run, cmd/run-plugin) exactly as the engine expects.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The exit code with which @pulumi/pulumi's runner says "the user has already seen an actionable message".
const exitAfterUserMessage = 32

func main() {
	flags := flag.NewFlagSet("pulumi-language-nodejs", flag.ContinueOnError)
	tracing := flags.String("tracing", "", "Zipkin-compatible tracing endpoint")
	// Flags older engines pass; accepted and ignored.
	for _, name := range []string{"root", "tsconfig", "nodeargs", "packagemanager", "v"} {
		flags.String(name, "", "(ignored)")
	}
	flags.Bool("typescript", true, "(ignored)")
	flags.Bool("logtostderr", false, "(ignored)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		cmdutil.Exit(err)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		cancel()
		close(cancelChannel)
	}()

	var engineAddress string
	if args := flags.Args(); len(args) > 0 {
		engineAddress = args[0]
		// Exit when the engine goes away.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check host RPC server: %w", err))
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{engineAddress: engineAddress, tracing: *tracing})
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
}

// options are the nodejs runtime options of Pulumi.yaml / PulumiPolicy.yaml.
type options struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func parseOptions(raw map[string]interface{}) (options, error) {
	o := options{typescript: true}
	if v, ok := raw["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return o, errors.New("runtime option typescript must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := raw["tsconfig"]; ok {
		s, isString := v.(string)
		if !isString {
			return o, errors.New("runtime option tsconfig must be a string")
		}
		o.tsconfig = s
	}
	if v, ok := raw["nodeargs"]; ok {
		s, isString := v.(string)
		if !isString {
			return o, errors.New("runtime option nodeargs must be a string")
		}
		o.nodeargs = strings.Fields(s)
	}
	return o, nil
}

// env adds what @pulumi/pulumi's runners read from the environment.
func (o options) env(base []string) []string {
	if o.typescript {
		base = append(base, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		base = append(base, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return base
}

// resolveModule finds an entry point of the program's own @pulumi/pulumi.
func resolveModule(dir, module string) (string, error) {
	cmd := exec.Command("node", "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s: is @pulumi/pulumi installed (npm install)?", module, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.EngineAddress
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages lists the resource plugins of every package under the
// program's node_modules whose package.json says `"pulumi": {"resource": true}`.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	seen := map[string]bool{}
	var packages []*pulumirpc.PackageDependency
	for dir := req.Info.ProgramDirectory; ; dir = filepath.Dir(dir) {
		walkPackages(filepath.Join(dir, "node_modules"), seen, &packages)
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func walkPackages(nodeModules string, seen map[string]bool, out *[]*pulumirpc.PackageDependency) {
	entries, err := os.ReadDir(nodeModules)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(nodeModules, e.Name())
		if strings.HasPrefix(e.Name(), "@") {
			walkPackages(dir, seen, out) // a scope: its packages are one level down
			continue
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		if b, err := os.ReadFile(filepath.Join(real, "package.json")); err == nil {
			var p packageJSON
			if json.Unmarshal(b, &p) == nil && p.Pulumi.Resource {
				name := p.Pulumi.Name
				if name == "" {
					name = strings.TrimPrefix(p.Name, "@pulumi/")
				}
				v := p.Pulumi.Version
				if v == "" {
					v = p.Version
				}
				if !strings.HasPrefix(v, "v") {
					v = "v" + v
				}
				*out = append(*out, &pulumirpc.PackageDependency{Kind: "resource", Name: name, Version: v, Server: p.Pulumi.Server})
			}
		}
		walkPackages(filepath.Join(real, "node_modules"), seen, out)
	}
}

// Run runs the program with @pulumi/pulumi/cmd/run, connected straight to the engine's monitor.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	opts, err := parseOptions(req.Info.Options.AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	runPath, err := resolveModule(req.Info.ProgramDirectory, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	// @pulumi/pulumi reads config keys in the "<namespace>:config:<name>" form.
	cfg := map[string]string{}
	for k, v := range req.Config {
		key, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	secretKeys := req.ConfigSecretKeys
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, _ := json.Marshal(secretKeys)

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	flag := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flag("monitor", req.MonitorAddress)
	flag("engine", h.engineAddress)
	flag("organization", req.Organization)
	flag("project", req.Project)
	flag("stack", req.Stack)
	flag("pwd", req.Info.ProgramDirectory)
	flag("root-directory", req.Info.RootDirectory)
	if req.DryRun {
		args = append(args, "--dry-run")
	}
	flag("parallel", strconv.Itoa(int(req.Parallel)))
	flag("tracing", h.tracing)
	args = append(args, req.Info.EntryPoint)
	args = append(args, req.Args...)

	cmd := exec.Command("node", args...)
	cmd.Dir = req.Info.ProgramDirectory
	cmd.Env = opts.env(append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON)))
	// Wrapped writers: node may set its stdio non-blocking, which must not leak into ours.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitAfterUserMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Node.js plugin (a policy pack, a provider) with @pulumi/pulumi/cmd/run-plugin,
// streaming its output back to the engine, which reads the plugin's port from it.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	opts, err := parseOptions(req.Info.Options.AsMap())
	if err != nil {
		return err
	}
	runPath, err := resolveModule(req.Info.ProgramDirectory, "@pulumi/pulumi/cmd/run-plugin")
	if err != nil {
		return err
	}
	args := append([]string{runPath}, opts.nodeargs...)
	args = append(args, req.Info.ProgramDirectory)
	args = append(args, req.Args...)
	cmd := exec.Command("node", args...)
	// A plugin runs in its own folder (the policy pack reads its package.json from
	// the working directory), not in the program's (req.Pwd).
	cmd.Dir = req.Info.ProgramDirectory
	cmd.Env = opts.env(req.Env)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("plugin exited with non-zero exit code: %d", exit.ExitCode())
		}
		return fmt.Errorf("could not run node for the plugin: %w", err)
	}
	return closer.Close()
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.IsTerminal)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd := exec.Command("npm", "install")
	cmd.Dir = req.Info.ProgramDirectory
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install in %s: %w", req.Info.ProgramDirectory, err)
	}
	return closer.Close()
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimSpace(string(out))}, nil
}

// GetProgramDependencies reports the program's direct npm dependencies (`npm ls --json --depth=0`).
func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	cmd := exec.Command("npm", "ls", "--json", "--depth=0")
	cmd.Dir = req.Info.ProgramDirectory
	out, _ := cmd.Output() // npm ls exits non-zero on extraneous packages yet still prints the tree
	var tree struct {
		Dependencies map[string]struct {
			Version string `json:"version"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(out, &tree); err != nil {
		return nil, status.Errorf(codes.Internal, "npm ls in %s: %v", req.Info.ProgramDirectory, err)
	}
	var deps []*pulumirpc.DependencyInfo
	for name, d := range tree.Dependencies {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: name, Version: d.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (h *host) RuntimeOptionsPrompts(ctx context.Context, req *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}
