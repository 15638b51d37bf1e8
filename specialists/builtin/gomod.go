package builtin

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/orchestrate-dev/orchestrate"
	"github.com/orchestrate-dev/orchestrate/artifacts"
)

// orchestratorOnly are the modules of orchestrate's go.mod that generated
// projects never import: the broker, the CLI, logging and test servers.
// Every other requirement is copied with its version, so a generated
// project selects exactly the versions the orchestrator was built with and
// builds offline from the same module cache. A new dependency of the
// orchestrator is copied too, which is harmless; one left out that the
// project needs fails the generated build in the tests of this package.
var orchestratorOnly = []string{
	"github.com/nats-io/", "github.com/alicebob/miniredis", "github.com/spf13/", "go.uber.org/zap",
	"go.uber.org/multierr", "github.com/cenkalti/backoff", "github.com/inconshreveable/mousetrap",
	"github.com/minio/highwayhash", "github.com/google/go-tpm", "github.com/antithesishq/",
	"github.com/yuin/gopher-lua", "golang.org/x/crypto", "golang.org/x/time", "github.com/klauspost/compress",
	// The terminal: progress bars and the pseudo-terminal of tests.
	"github.com/vbauerster/", "github.com/VividCortex/ewma", "github.com/acarl005/stripansi",
	"github.com/clipperhouse/", "github.com/mattn/go-runewidth", "github.com/creack/pty", "golang.org/x/term",
	// The workers' metrics.
	"github.com/prometheus/", "github.com/beorn7/perks", "github.com/munnerz/goautoneg",
	// The Helm chart's test (package charts): Helm, the Kubernetes API types
	// and what they bring.
	"helm.sh/", "k8s.io/", "sigs.k8s.io/", "dario.cat/mergo", "github.com/BurntSushi/toml",
	"github.com/Masterminds/", "github.com/asaskevich/govalidator", "github.com/cyphar/filepath-securejoin",
	"github.com/davecgh/go-spew", "github.com/emicklei/go-restful", "github.com/fxamacker/cbor",
	"github.com/go-logr/", "github.com/go-openapi/", "github.com/gobwas/glob", "github.com/google/gnostic-models",
	"github.com/google/uuid", "github.com/huandu/xstrings", "github.com/json-iterator/go", "github.com/mitchellh/",
	"github.com/modern-go/", "github.com/santhosh-tekuri/jsonschema", "github.com/shopspring/decimal",
	"github.com/x448/float16", "go.yaml.in/", "golang.org/x/net", "golang.org/x/oauth2", "gopkg.in/inf.v0",
	// The llm executor (package llmagent): Anthropic's and OpenAI's SDKs and
	// what they bring.
	"github.com/anthropics/", "github.com/openai/", "github.com/bahlo/generic-list-go", "github.com/buger/jsonparser",
	"github.com/invopop/jsonschema", "github.com/pb33f/ordered-map", "github.com/standard-webhooks/",
	"github.com/tidwall/", "go.opentelemetry.io/", "golang.org/x/sync", "github.com/coder/websocket",
}

// goModFiles returns the generated project's go.mod and go.sum. The go.sum
// is the orchestrator's: a superset of what the project needs, which the
// go command accepts.
func goModFiles(module string) []artifacts.File {
	var b bytes.Buffer
	fmt.Fprintf(&b, "module %s\n", module)
	inRequire := false
	for _, line := range strings.Split(string(orchestrate.GoMod), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "module "):
			continue
		case trimmed == "require (":
			inRequire = true
		case inRequire && trimmed == ")":
			inRequire = false
		case strings.HasPrefix(trimmed, "require ") || inRequire:
			path := strings.TrimSpace(strings.TrimPrefix(trimmed, "require "))
			if skipModule(path) {
				continue
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	mod := bytes.TrimRight(b.Bytes(), "\n")
	return []artifacts.File{
		{Path: "go.mod", Data: append(mod, '\n'), Mode: 0o644},
		{Path: "go.sum", Data: orchestrate.GoSum, Mode: 0o644},
	}
}

func skipModule(requirement string) bool {
	for _, p := range orchestratorOnly {
		if strings.HasPrefix(requirement, p) {
			return true
		}
	}
	return false
}
