package collector

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadManifestReadsTheTestCommand(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Manifest
	}{
		{"a full manifest keeps every field", `name: ml-system
test:
  command: ["go", "test", "./..."]
  timeout: 90s
  env: {ORCH_MODE: offline}
`, Manifest{Name: "ml-system", Test: TestSpec{Command: []string{"go", "test", "./..."}, Timeout: 90 * time.Second, Env: map[string]string{"ORCH_MODE": "offline"}}}},
		{"a manifest without a timeout gets ten minutes", "test:\n  command: [make, test]\n",
			Manifest{Test: TestSpec{Command: []string{"make", "test"}, Timeout: DefaultTestTimeout}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTestFile(t, filepath.Join(dir, ManifestFile), tt.yaml)
			m, err := LoadManifest(dir)
			if err != nil {
				t.Fatalf("LoadManifest: %v", err)
			}
			if !reflect.DeepEqual(*m, tt.want) {
				t.Errorf("manifest = %+v, want %+v", *m, tt.want)
			}
		})
	}
}

func TestLoadManifestErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string // "-" means no file
		wantErr error
		field   string
	}{
		{"a missing file says where it was expected", "-", ErrNoManifest, "test.command"},
		{"an empty file asks for test.command", "", ErrInvalidManifest, "test.command"},
		{"a manifest without a test section asks for test.command", "name: x\n", ErrInvalidManifest, "test.command"},
		{"an empty command list is refused", "test:\n  command: []\n", ErrInvalidManifest, "test.command"},
		{"an empty program name is refused", "test:\n  command: [\"\", x]\n", ErrInvalidManifest, "test.command[0]"},
		{"a command given as one string is refused", "test:\n  command: go test ./...\n", ErrInvalidManifest, "line 2"},
		{"a timeout that is not a duration names the field", "test:\n  command: [go]\n  timeout: ten minutes\n", ErrInvalidManifest, "test.timeout"},
		{"a timeout without a unit names the field", "test:\n  command: [go]\n  timeout: 30\n", ErrInvalidManifest, "test.timeout"},
		{"a negative timeout names the field", "test:\n  command: [go]\n  timeout: -1m\n", ErrInvalidManifest, "test.timeout"},
		{"a misspelt key is not ignored", "tset:\n  command: [go]\n", ErrInvalidManifest, "tset"},
		{"an unknown key inside test is not ignored", "test:\n  command: [go]\n  timout: 1m\n", ErrInvalidManifest, "timout"},
		{"an environment variable with '=' is refused", "test:\n  command: [go]\n  env: {\"A=B\": x}\n", ErrInvalidManifest, "test.env"},
		{"malformed YAML is refused", "test: [\n", ErrInvalidManifest, "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.yaml != "-" {
				writeTestFile(t, filepath.Join(dir, ManifestFile), tt.yaml)
			}
			_, err := LoadManifest(dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			t.Logf("error: %v", err)
			if msg := err.Error(); !strings.Contains(msg, filepath.Join(dir, ManifestFile)) || !strings.Contains(msg, tt.field) {
				t.Errorf("error %q does not name the file and %q", msg, tt.field)
			}
		})
	}
}
