package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ManifestFile is the name of the manifest at the root of every tree.
const ManifestFile = "orchestrate.yaml"

// DefaultTestTimeout bounds a test command whose manifest sets no timeout.
const DefaultTestTimeout = 10 * time.Minute

// Manifest is a tree's orchestrate.yaml: how the collector tests it.
//
//	name: ml-system
//	test:
//	  command: ["go", "test", "./..."]
//	  timeout: 10m        # Go duration; default 10m
//	  env: {KEY: value}   # optional extra environment
type Manifest struct {
	Name string   `yaml:"name"`
	Test TestSpec `yaml:"test"`
}

// TestSpec declares a tree's test command.
type TestSpec struct {
	// Command is run in the tree's root, without a shell.
	Command []string `yaml:"command"`
	// Timeout bounds one run; LoadManifest sets DefaultTestTimeout when
	// the file leaves it out.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Env is added to the scrubbed environment the command runs in.
	Env map[string]string `yaml:"env,omitempty"`
}

// manifestFile is the manifest as written: the timeout is decoded as text
// so that a bad value gets an error naming the field, not a YAML type.
type manifestFile struct {
	Name string      `yaml:"name"`
	Test testSection `yaml:"test"`
}

type testSection struct {
	Command []string          `yaml:"command"`
	Timeout string            `yaml:"timeout"`
	Env     map[string]string `yaml:"env"`
}

// unknownField matches yaml.v3's complaint about a key KnownFields refused,
// which names our Go types rather than the manifest's sections.
var unknownField = regexp.MustCompile(`field (\S+) not found in type collector\.(manifestFile|testSection)`)

// explainYAML rewrites a decoding error in the manifest's own terms.
func explainYAML(err error) string {
	return unknownField.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := unknownField.FindStringSubmatch(m)
		if sub[2] == "testSection" {
			return fmt.Sprintf("unknown field test.%s (known: test.command, test.timeout, test.env)", sub[1])
		}
		return fmt.Sprintf("unknown field %s (known: name, test)", sub[1])
	})
}

// LoadManifest reads dir/orchestrate.yaml. Unknown fields are errors, so
// that a misspelt key is not silently ignored. A missing file wraps
// ErrNoManifest; any other problem wraps ErrInvalidManifest and names the
// file and the field.
func LoadManifest(dir string) (*Manifest, error) {
	name := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; a tree must declare its tests there (test.command)", ErrNoManifest, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidManifest, name, fmt.Sprintf(format, args...))
	}
	var raw manifestFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if err == io.EOF {
			return nil, invalid("the file is empty; test.command is required")
		}
		return nil, invalid("%s", explainYAML(err))
	}
	m := &Manifest{Name: raw.Name, Test: TestSpec{Command: raw.Test.Command, Env: raw.Test.Env, Timeout: DefaultTestTimeout}}
	if len(m.Test.Command) == 0 {
		return nil, invalid(`test.command is missing or empty (for example ["go", "test", "./..."])`)
	}
	if strings.TrimSpace(m.Test.Command[0]) == "" {
		return nil, invalid("test.command[0] is empty; it names the program to run")
	}
	if t := strings.TrimSpace(raw.Test.Timeout); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, invalid("test.timeout %q: %v (use a Go duration such as 10m or 90s)", t, err)
		}
		if d <= 0 {
			return nil, invalid("test.timeout %q: must be positive", t)
		}
		m.Test.Timeout = d
	}
	for k, v := range m.Test.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, invalid("test.env: %q is not a valid environment variable", k)
		}
	}
	return m, nil
}
