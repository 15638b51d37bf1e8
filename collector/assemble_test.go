package collector

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

func TestAssembleWritesExactBytesAndModes(t *testing.T) {
	src := newMemSource().
		add("j1", "t-gen", "go.mod", []byte("module example.com/t\n"), 0).
		add("j1", "t-gen", "cmd/run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755).
		add("j1", "t-model", "models/churn.onnx", []byte{0, 1, 2, 0xff}, 0o600).
		add("j1", "t-model", "empty.txt", nil, 0o644).
		add("other-job", "t-x", "not-mine.txt", []byte("x"), 0)
	dir := filepath.Join(t.TempDir(), "out", "tree")

	tree, err := Assemble(context.Background(), src, "j1", dir)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	if tree.Dir != dir || tree.Files != 4 || tree.Bytes != int64(21+18+4) {
		t.Errorf("tree = %+v, want dir %s, 4 files, 43 bytes", tree, dir)
	}
	want := map[string]struct {
		data []byte
		mode fs.FileMode
	}{
		"go.mod":            {[]byte("module example.com/t\n"), 0o644},
		"cmd/run.sh":        {[]byte("#!/bin/sh\necho hi\n"), 0o755},
		"models/churn.onnx": {[]byte{0, 1, 2, 0xff}, 0o600},
		"empty.txt":         {nil, 0o644},
	}
	got := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("files in tree = %v, want %d files", got, len(want))
	}
	for name, w := range want {
		p := filepath.Join(dir, filepath.FromSlash(name))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			continue
		}
		if !bytes.Equal(data, w.data) {
			t.Errorf("%s = %q, want %q", name, data, w.data)
		}
		fi, _ := os.Lstat(p)
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != w.mode {
			t.Errorf("%s mode = %v, want regular %v", name, fi.Mode(), w.mode)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("tree root mode = %v, want 0755", fi.Mode().Perm())
	}
	assertNoTempDirs(t, filepath.Dir(dir))
}

func TestAssembleTarget(t *testing.T) {
	src := newMemSource().add("j", "t1", "a.txt", []byte("a"), 0)
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		wantErr error // nil: success
		wantMsg string
	}{
		{"fills an existing empty directory", func(t *testing.T, dir string) { mkdir(t, dir) }, nil, ""},
		{"refuses a directory that holds a file", func(t *testing.T, dir string) {
			mkdir(t, dir)
			writeTestFile(t, filepath.Join(dir, "keep.txt"), "mine")
		}, ErrOutputExists, "keep.txt"},
		{"refuses a path that is a file", func(t *testing.T, dir string) { writeTestFile(t, dir, "x") }, ErrOutputExists, "is a file"},
		{"refuses a symbolic link to an empty directory", func(t *testing.T, dir string) {
			mkdir(t, dir+".real")
			if err := os.Symlink(dir+".real", dir); err != nil {
				t.Fatal(err)
			}
		}, ErrOutputExists, "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			tt.prepare(t, dir)
			_, err := Assemble(context.Background(), src, "j", dir)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Assemble: %v", err)
				}
				if data, err := os.ReadFile(filepath.Join(dir, "a.txt")); err != nil || string(data) != "a" {
					t.Errorf("a.txt = %q, %v", data, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v naming %s and %q", err, tt.wantErr, dir, tt.wantMsg)
			}
			assertNoTempDirs(t, filepath.Dir(dir))
		})
	}
}

func TestAssembleRefusesABadIndex(t *testing.T) {
	tests := []struct {
		name    string
		src     *memSource
		wantErr error
		want    []string // substrings of the message
	}{
		{"a corrupted blob names the path and task and leaves nothing behind",
			func() *memSource {
				s := newMemSource().add("j", "t-a", "a.txt", []byte("good"), 0).add("j", "t-b", "b/c.txt", []byte("fine"), 0)
				s.corrupt("j", "b/c.txt", []byte("evil"))
				return s
			}(),
			artifacts.ErrCorrupt, []string{`"b/c.txt"`, "t-b"}},
		{"a missing blob is not found",
			func() *memSource {
				s := newMemSource().add("j", "t-a", "a.txt", []byte("good"), 0)
				delete(s.blobs, s.entries["j"][0].Digest)
				return s
			}(),
			artifacts.ErrNotFound, []string{`"a.txt"`, "t-a"}},
		{"paths equal under case folding name both paths and both tasks",
			newMemSource().add("j", "t-upper", "README.md", []byte("1"), 0).add("j", "t-lower", "readme.md", []byte("2"), 0),
			artifacts.ErrConflict, []string{"README.md", "readme.md", "t-upper", "t-lower"}},
		{"a file that is also a directory names both tasks",
			newMemSource().add("j", "t-file", "pkg", []byte("1"), 0).add("j", "t-dir", "pkg/x.go", []byte("2"), 0),
			artifacts.ErrConflict, []string{`"pkg"`, `"pkg/x.go"`, "t-file", "t-dir"}},
		{"a file that is a directory under case folding is a conflict",
			newMemSource().add("j", "t-file", "Pkg", []byte("1"), 0).add("j", "t-dir", "pkg/sub/x.go", []byte("2"), 0),
			artifacts.ErrConflict, []string{`"Pkg"`, `"pkg/sub/x.go"`, "t-file", "t-dir"}},
		{"a path escaping the tree is invalid",
			newMemSource().add("j", "t-evil", "../escape.txt", []byte("1"), 0),
			artifacts.ErrInvalidPath, []string{"../escape.txt", "t-evil"}},
		{"an absolute path is invalid",
			newMemSource().add("j", "t-evil", "/etc/passwd", []byte("1"), 0),
			artifacts.ErrInvalidPath, []string{"/etc/passwd", "t-evil"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "tree")
			_, err := Assemble(context.Background(), tt.src, "j", dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("tree dir exists after failure: %v", err)
			}
			assertNoTempDirs(t, parent)
		})
	}
}

func TestAssembleNamesDirWhenItsParentCannotBeWritten(t *testing.T) {
	parent := t.TempDir()
	writeTestFile(t, filepath.Join(parent, "somefile"), "x")
	dir := filepath.Join(parent, "somefile", "out")
	src := newMemSource().add("j", "t", "a.txt", []byte("a"), 0)
	_, err := Assemble(context.Background(), src, "j", dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want an error naming %s", err, dir)
	}
}

func TestCheckWritable(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, base string) string // returns the dir to check
		wantMsg string                                 // "" means writable
	}{
		{"accepts a directory that does not exist yet", func(t *testing.T, base string) string {
			return filepath.Join(base, "out")
		}, ""},
		{"accepts a directory whose parents can be created", func(t *testing.T, base string) string {
			return filepath.Join(base, "a", "b", "out")
		}, ""},
		{"accepts an empty directory", func(t *testing.T, base string) string {
			mkdir(t, filepath.Join(base, "out"))
			return filepath.Join(base, "out")
		}, ""},
		{"refuses a directory that holds a file", func(t *testing.T, base string) string {
			writeTestFile(t, filepath.Join(base, "out", "x.txt"), "x")
			return filepath.Join(base, "out")
		}, "not an empty directory"},
		{"refuses a path that is a file", func(t *testing.T, base string) string {
			writeTestFile(t, filepath.Join(base, "out"), "x")
			return filepath.Join(base, "out")
		}, "is a file"},
		{"refuses a directory whose parent is a regular file", func(t *testing.T, base string) string {
			writeTestFile(t, filepath.Join(base, "somefile"), "x")
			return filepath.Join(base, "somefile", "out")
		}, "somefile is not a directory"},
		{"refuses a directory below a regular file deeper down", func(t *testing.T, base string) string {
			writeTestFile(t, filepath.Join(base, "somefile"), "x")
			return filepath.Join(base, "somefile", "a", "out")
		}, "somefile is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := tt.prepare(t, base)
			err := CheckWritable(dir)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("CheckWritable(%s) = %v, want nil", dir, err)
				}
				if _, err := os.Stat(filepath.Join(base, "a")); err == nil {
					t.Errorf("CheckWritable created parents; it must not change anything")
				}
			} else if err != nil {
				t.Logf("error: %v", err)
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Fatalf("CheckWritable(%s) = %v, want an error naming it and saying %q", dir, err, tt.wantMsg)
			}
			assertNoProbes(t, base)
		})
	}
}

// assertNoTempDirs fails if Assemble left its temporary sibling in parent.
func assertNoTempDirs(t *testing.T, parent string) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(parent, ".*.tmp-*"))
	if len(names) > 0 {
		t.Errorf("temporary directories left behind: %v", names)
	}
}

func assertNoProbes(t *testing.T, base string) {
	t.Helper()
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".orchestrate-probe-") {
			t.Errorf("probe file left behind: %s", p)
		}
		return nil
	})
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeTestFile(t *testing.T, name, data string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
