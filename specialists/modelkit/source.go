package modelkit

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"io/fs"
	"strings"
)

// source is the library's own code. Generated projects carry a copy, so
// that their training command reproduces the models bit for bit and their
// serving code runs the same feature step and ONNX runtime.
//
//go:embed *.go engine/*.go evaluate/*.go inspection/*.go features/*.go gbdt/*.go linear/*.go mlp/*.go onnxmodel/*.go synth/*.go tabular/*.go vision/*.go
var source embed.FS

// importPath is where the library lives in this module.
const importPath = "github.com/orchestrate-dev/orchestrate/specialists/modelkit"

// Source returns the library's Go files without their tests, keyed by
// slash path relative to the library's root, with its imports of itself
// rewritten to importAs (the import path of the copy).
func Source(importAs string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") || p == "source.go" {
			return err
		}
		data, err := fs.ReadFile(source, p)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(data, []byte(`"`+importPath), []byte(`"`+importAs))
		// The new path may sort elsewhere among the imports.
		if out[p], err = format.Source(data); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
	return out, err
}
