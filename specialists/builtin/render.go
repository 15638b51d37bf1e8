package builtin

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"text/template"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/specialists"
)

// templateFS holds one folder per skill, laid out as the files it
// generates, each with a .tmpl suffix (a bare go.mod would make the folder
// a separate module, and .go files would be compiled into this package).
//
//go:embed templates
var templateFS embed.FS

// Templates use [[ ]] as delimiters because the generated Go code is full
// of {{ }} (composite literals of composite literals).
const leftDelim, rightDelim = "[[", "]]"

type parsedTemplate struct {
	out  string // path of the generated file
	tmpl *template.Template
}

// parsedTemplates parses every template once, on first use; a syntax error
// is a bug of this package and fails every skill that needs templates.
var parsedTemplates = sync.OnceValues(func() (map[string][]parsedTemplate, error) {
	byDir := map[string][]parsedTemplate{}
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		// templates/<scenario>/<skill>/<output path>.tmpl
		parts := strings.SplitN(p, "/", 4)
		if len(parts) != 4 || !strings.HasSuffix(p, ".tmpl") {
			return fmt.Errorf("template %s: want templates/<scenario>/<skill>/<path>.tmpl", p)
		}
		src, err := fs.ReadFile(templateFS, p)
		if err != nil {
			return err
		}
		t, err := template.New(p).Delims(leftDelim, rightDelim).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		dir := path.Join(parts[1], parts[2])
		byDir[dir] = append(byDir[dir], parsedTemplate{out: strings.TrimSuffix(parts[3], ".tmpl"), tmpl: t})
		return nil
	})
	return byDir, err
})

// render executes the templates of dir (scenario/skill) with data and
// returns the files sorted by path, Go files gofmt-formatted.
func render(dir string, data any) ([]artifacts.File, error) {
	all, err := parsedTemplates()
	if err != nil {
		return nil, specialists.Permanent(fmt.Errorf("builtin templates: %w", err))
	}
	tmpls := all[dir]
	if len(tmpls) == 0 {
		return nil, specialists.Permanent(fmt.Errorf("builtin templates: none for %s", dir))
	}
	files := make([]artifacts.File, 0, len(tmpls))
	for _, pt := range tmpls {
		var buf bytes.Buffer
		if err := pt.tmpl.Execute(&buf, data); err != nil {
			return nil, specialists.Permanent(fmt.Errorf("render %s: %w", pt.out, err))
		}
		out := buf.Bytes()
		if strings.HasSuffix(pt.out, ".go") {
			// Formatting fails only on Go that does not parse: a template bug
			// that no retry can fix.
			if out, err = format.Source(out); err != nil {
				return nil, specialists.Permanent(fmt.Errorf("render %s: generated Go does not parse: %w", pt.out, err))
			}
		}
		files = append(files, artifacts.File{Path: pt.out, Data: out})
	}
	slices.SortFunc(files, func(a, b artifacts.File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}
