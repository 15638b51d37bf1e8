package artifacts_test

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

func TestValidatePath(t *testing.T) {
	good := []struct{ name, path string }{
		{"a plain file name is accepted", "README.md"},
		{"a nested path is accepted", "src/pkg/main.go"},
		{"a dot file is accepted", ".gitignore"},
		{"a name starting with two dots is accepted", "..hidden"},
		{"a name containing two dots is accepted", "a..b/c"},
		{"a name with spaces inside is accepted", "my docs/read me.txt"},
		{"non-ASCII UTF-8 is accepted", "données/résumé.md"},
		{"a device name as a prefix only is accepted", "console/connect.go"},
		{"COM10 is not a device and is accepted", "COM10"},
		{"LPT0 is not a device and is accepted", "lpt0.txt"},
		{"a 255-byte element is accepted", strings.Repeat("a", 255)},
		{"a 1024-byte path is accepted", strings.Repeat(strings.Repeat("a", 127)+"/", 8)[:1023] + "b"},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			if err := artifacts.ValidatePath(tc.path); err != nil {
				t.Fatalf("ValidatePath(%q) = %v, want nil", tc.path, err)
			}
		})
	}

	bad := []struct{ name, path, reason string }{
		{"an empty path is refused", "", "is empty"},
		{"a leading '..' is refused", "../x", "contains '..'"},
		{"a '..' inside is refused", "a/../b", "contains '..'"},
		{"a trailing '..' is refused", "a/..", "contains '..'"},
		{"'..' alone is refused", "..", "contains '..'"},
		{"an absolute path is refused", "/etc/passwd", "is absolute"},
		{"a double slash is refused", "a//b", "empty element"},
		{"a leading './' is refused", "./a", "'.' element"},
		{"'.' alone is refused", ".", "'.' element"},
		{"a '.' inside is refused", "a/./b", "'.' element"},
		{"a trailing slash is refused", "a/", "ends with '/'"},
		{"a backslash is refused", `a\b`, "backslash"},
		{"a Windows traversal is refused", `..\x`, "backslash"},
		{"a NUL byte is refused", "a\x00b", "NUL"},
		{"a bell character is refused", "a\x07b", "control character 0x07"},
		{"a newline is refused", "a\nb", "control character 0x0a"},
		{"DEL is refused", "a\x7f", "control character 0x7f"},
		{"the device name con is refused", "con", "device name"},
		{"a device name with an extension is refused", "nul.txt", "device name"},
		{"a device name as a directory is refused", "a/COM1/b", "device name"},
		{"a device name as the last element is refused", "a/COM1", "device name"},
		{"LPT9 with two extensions is refused", "lpt9.tar.gz", "device name"},
		{"a device name with a superscript digit is refused", "COM\u00b9", "device name"},
		{"CONOUT$ is refused", "conout$", "device name"},
		{"a device name before a colon is refused", "aux:stream", "device name"},
		{"a device name with trailing spaces before the extension is refused", "prn  .txt", "device name"},
		{"a path over 1024 bytes is refused", strings.Repeat("a/", 512) + "b", "over the limit of 1024"},
		{"an element over 255 bytes is refused", strings.Repeat("a", 256), "over the limit of 255"},
		{"invalid UTF-8 is refused", "a\xffb", "not valid UTF-8"},
		{"an element ending in a dot is refused", "a/b.", "ending in a dot"},
		{"a directory ending in a dot is refused", "a./b", "ending in a dot"},
		{"an element ending in a space is refused", "a /b", "ending in a space"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := artifacts.ValidatePath(tc.path)
			var pe *artifacts.PathError
			if !errors.As(err, &pe) {
				t.Fatalf("ValidatePath(%q) = %v, want a *PathError", tc.path, err)
			}
			if !errors.Is(err, artifacts.ErrInvalidPath) {
				t.Errorf("error %v does not wrap ErrInvalidPath", err)
			}
			if pe.Path != tc.path || pe.Task != "" {
				t.Errorf("PathError names path %q task %q, want path %q and no task", pe.Path, pe.Task, tc.path)
			}
			if !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", pe.Reason, tc.reason)
			}
		})
	}
}

// FuzzValidatePath checks that whatever ValidatePath accepts stays inside
// the tree. The length limits make long inputs "interesting", and the
// fuzzer's minimization of those is quadratic, so a run may stall for a
// while; -fuzzminimizetime 2s keeps it fuzzing.
func FuzzValidatePath(f *testing.F) {
	for _, seed := range []string{
		"a", "a/b/c.txt", "../x", "a/../b", "/etc/passwd", "a//b", "./a", "a/",
		`a\b`, "a\x00", "con", "nul.txt", "a/COM1", "a/b.", "a /b", "\xff",
		"..", ".", "", "données/résumé.md", "COM\u00b9.txt",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := artifacts.ValidatePath(p)
		if err != nil {
			var pe *artifacts.PathError
			if !errors.As(err, &pe) || !errors.Is(err, artifacts.ErrInvalidPath) {
				t.Fatalf("ValidatePath(%q) = %v, want a *PathError wrapping ErrInvalidPath", p, err)
			}
			if pe.Path != p || pe.Reason == "" {
				t.Fatalf("ValidatePath(%q) gave PathError{Path: %q, Reason: %q}", p, pe.Path, pe.Reason)
			}
			return
		}
		// Whatever is accepted must stay inside the tree it is joined to.
		switch {
		case path.Clean(p) != p:
			t.Fatalf("accepted %q, which path.Clean changes to %q", p, path.Clean(p))
		case p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
			t.Fatalf("accepted %q, which climbs out of the tree", p)
		case strings.HasPrefix(p, "/") || strings.Contains(p, `\`):
			t.Fatalf("accepted %q, which is absolute or uses a backslash", p)
		case !filepath.IsLocal(p):
			t.Fatalf("accepted %q, which filepath.IsLocal refuses", p)
		case !strings.HasPrefix(path.Join("root", p), "root/"):
			t.Fatalf("accepted %q, which joined to root gives %q", p, path.Join("root", p))
		case !utf8.ValidString(p) || len(p) > 1024:
			t.Fatalf("accepted %q, which is not UTF-8 or too long", p)
		case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			t.Fatalf("accepted %q, which contains a control character", p)
		}
		for _, e := range strings.Split(p, "/") {
			if e == "" || len(e) > 255 || strings.HasSuffix(e, ".") || strings.HasSuffix(e, " ") {
				t.Fatalf("accepted %q, whose element %q is empty, too long, or ends in a dot or space", p, e)
			}
		}
	})
}
