package artifacts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

func mustFiles(t *testing.T, s *artifacts.Store, job string) []artifacts.Entry {
	t.Helper()
	got, err := s.Files(context.Background(), job)
	if err != nil {
		t.Fatalf("Files(%s): %v", job, err)
	}
	return got
}

func paths(es []artifacts.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Path
	}
	return out
}

func TestRecord(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, artifacts.Limits{MaxFileSize: 1 << 10, ChunkSize: 64})
	s := e.store

	t.Run("recorded files are indexed sorted by path and read back", func(t *testing.T) {
		files := []artifacts.File{
			{Path: "src/main.go", Data: []byte("package main\n")},
			{Path: "README.md", Data: []byte("# hi\n")},
			{Path: "bin/run.sh", Data: []byte("#!/bin/sh\n"), Mode: 0o755 | fs.ModeSetuid},
		}
		got, err := s.Record(ctx, "j1", "build", files)
		if err != nil {
			t.Fatal(err)
		}
		want := []artifacts.Entry{
			{Path: "README.md", Digest: hexSum(files[1].Data), Size: 5, Mode: 0o644, Task: "build"},
			{Path: "bin/run.sh", Digest: hexSum(files[2].Data), Size: 10, Mode: 0o755, Task: "build"},
			{Path: "src/main.go", Digest: hexSum(files[0].Data), Size: 13, Mode: 0o644, Task: "build"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Record returned\n%+v\nwant\n%+v", got, want)
		}
		if all := mustFiles(t, s, "j1"); !reflect.DeepEqual(all, want) {
			t.Fatalf("Files =\n%+v\nwant\n%+v", all, want)
		}
		if mine, err := s.TaskFiles(ctx, "j1", "build"); err != nil || !reflect.DeepEqual(mine, want) {
			t.Fatalf("TaskFiles = %+v, %v; want %+v", mine, err, want)
		}
		for _, f := range files {
			data, err := s.Read(ctx, "j1", f.Path)
			if err != nil || !bytes.Equal(data, f.Data) {
				t.Fatalf("Read(%s) = %q, %v; want %q", f.Path, data, err, f.Data)
			}
		}
	})

	t.Run("a task's files are listed apart from other tasks' files", func(t *testing.T) {
		if _, err := s.Record(ctx, "j2", "a", []artifacts.File{{Path: "a.txt", Data: []byte("a")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, "j2", "b", []artifacts.File{{Path: "b.txt", Data: []byte("b")}}); err != nil {
			t.Fatal(err)
		}
		if got := paths(mustFiles(t, s, "j2")); !reflect.DeepEqual(got, []string{"a.txt", "b.txt"}) {
			t.Fatalf("Files = %v", got)
		}
		b, err := s.TaskFiles(ctx, "j2", "b")
		if err != nil || !reflect.DeepEqual(paths(b), []string{"b.txt"}) {
			t.Fatalf("TaskFiles(b) = %v, %v; want [b.txt]", paths(b), err)
		}
	})

	t.Run("a file larger than a chunk is recorded and read back", func(t *testing.T) {
		data := pattern(200)
		if _, err := s.Record(ctx, "j3", "t", []artifacts.File{{Path: "big.bin", Data: data}}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Read(ctx, "j3", "big.bin"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Read = %d bytes, %v; want the %d written", len(got), err, len(data))
		}
	})

	t.Run("reading a path the job does not have is ErrNotFound", func(t *testing.T) {
		if _, err := s.Read(ctx, "j1", "nope.txt"); !errors.Is(err, artifacts.ErrNotFound) {
			t.Fatalf("Read of a missing path = %v, want ErrNotFound", err)
		}
	})

	t.Run("a job without artifacts lists none", func(t *testing.T) {
		if got := mustFiles(t, s, "empty"); len(got) != 0 {
			t.Fatalf("Files = %+v, want none", got)
		}
	})
}

func TestRecordRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, artifacts.Limits{MaxFileSize: 16})
	s := e.store

	t.Run("a path escaping the tree is refused naming task and path, and nothing is stored", func(t *testing.T) {
		before := e.keyCount(t)
		_, err := s.Record(ctx, "trav", "evil", []artifacts.File{
			{Path: "ok.txt", Data: []byte("fine")},
			{Path: "../x", Data: []byte("escape")},
		})
		var pe *artifacts.PathError
		if !errors.As(err, &pe) || !errors.Is(err, artifacts.ErrInvalidPath) {
			t.Fatalf("Record = %v, want a *PathError wrapping ErrInvalidPath", err)
		}
		if pe.Task != "evil" || pe.Path != "../x" {
			t.Fatalf("PathError names task %q path %q, want evil and ../x", pe.Task, pe.Path)
		}
		if msg := err.Error(); !strings.Contains(msg, "evil") || !strings.Contains(msg, `"../x"`) {
			t.Fatalf("error %q does not name the task and the path", msg)
		}
		if got := mustFiles(t, s, "trav"); len(got) != 0 {
			t.Fatalf("Files after a refused Record = %+v, want none", got)
		}
		if n := e.keyCount(t); n != before {
			t.Fatalf("a refused Record wrote %d keys", n-before)
		}
	})

	t.Run("a file over the size limit is refused with ErrTooLarge", func(t *testing.T) {
		_, err := s.Record(ctx, "big", "t", []artifacts.File{{Path: "big.bin", Data: make([]byte, 17)}})
		var pe *artifacts.PathError
		if !errors.Is(err, artifacts.ErrTooLarge) || !errors.As(err, &pe) || pe.Path != "big.bin" || pe.Task != "t" {
			t.Fatalf("Record = %v, want a *PathError for big.bin of task t wrapping ErrTooLarge", err)
		}
		if got := mustFiles(t, s, "big"); len(got) != 0 {
			t.Fatalf("Files = %+v, want none", got)
		}
	})

	t.Run("another task's different content at the same path is refused and the first entry kept", func(t *testing.T) {
		first, err := s.Record(ctx, "conf", "a", []artifacts.File{{Path: "out.txt", Data: []byte("from a")}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Record(ctx, "conf", "b", []artifacts.File{
			{Path: "b-only.txt", Data: []byte("b")},
			{Path: "out.txt", Data: []byte("from b")},
		})
		var ce *artifacts.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, artifacts.ErrConflict) {
			t.Fatalf("Record = %v, want a *ConflictError", err)
		}
		want := artifacts.ConflictError{Path: "out.txt", Task: "b", OtherPath: "out.txt", OtherTask: "a"}
		if *ce != want {
			t.Fatalf("conflict %+v, want %+v", *ce, want)
		}
		if got := mustFiles(t, s, "conf"); !reflect.DeepEqual(got, first) {
			t.Fatalf("Files = %+v, want only a's entry %+v", got, first)
		}
		if got, _ := s.TaskFiles(ctx, "conf", "b"); len(got) != 0 {
			t.Fatalf("TaskFiles(b) = %+v, want none", got)
		}
	})

	t.Run("paths differing only in case across tasks are refused", func(t *testing.T) {
		if _, err := s.Record(ctx, "case", "a", []artifacts.File{{Path: "README.md", Data: []byte("A")}}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Record(ctx, "case", "b", []artifacts.File{{Path: "readme.md", Data: []byte("A")}})
		var ce *artifacts.ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("Record = %v, want a *ConflictError", err)
		}
		want := artifacts.ConflictError{Path: "readme.md", Task: "b", OtherPath: "README.md", OtherTask: "a"}
		if *ce != want {
			t.Fatalf("conflict %+v, want %+v", *ce, want)
		}
		if got := paths(mustFiles(t, s, "case")); !reflect.DeepEqual(got, []string{"README.md"}) {
			t.Fatalf("Files = %v, want [README.md]", got)
		}
	})

	t.Run("paths differing only in case within one call are refused", func(t *testing.T) {
		_, err := s.Record(ctx, "case1", "a", []artifacts.File{
			{Path: "Docs/a.md", Data: []byte("1")},
			{Path: "docs/A.md", Data: []byte("2")},
		})
		var ce *artifacts.ConflictError
		if !errors.As(err, &ce) || ce.OtherPath != "Docs/a.md" || ce.Path != "docs/A.md" || ce.OtherTask != "a" {
			t.Fatalf("Record = %v, want a *ConflictError between Docs/a.md and docs/A.md", err)
		}
		if got := mustFiles(t, s, "case1"); len(got) != 0 {
			t.Fatalf("Files = %+v, want none", got)
		}
	})

	t.Run("an empty task id is refused", func(t *testing.T) {
		if _, err := s.Record(ctx, "j", "", []artifacts.File{{Path: "a", Data: nil}}); err == nil {
			t.Fatal("Record with an empty task id succeeded")
		}
	})
}

func TestRecordRepeats(t *testing.T) {
	ctx := context.Background()
	s := newEnv(t, artifacts.Limits{}).store
	files := []artifacts.File{
		{Path: "a.txt", Data: []byte("a")},
		{Path: "dir/b.txt", Data: []byte("b")},
	}

	t.Run("a redelivered task recording the same files changes nothing", func(t *testing.T) {
		first, err := s.Record(ctx, "redo", "t", files)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Record(ctx, "redo", "t", files)
		if err != nil {
			t.Fatalf("second Record: %v", err)
		}
		if !reflect.DeepEqual(again, first) {
			t.Fatalf("second Record returned %+v, want %+v", again, first)
		}
		if got := mustFiles(t, s, "redo"); !reflect.DeepEqual(got, first) {
			t.Fatalf("Files = %+v, want %+v", got, first)
		}
	})

	t.Run("a retry whose output changed replaces its own entry", func(t *testing.T) {
		if _, err := s.Record(ctx, "redo", "t", []artifacts.File{{Path: "a.txt", Data: []byte("a, second try")}}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Read(ctx, "redo", "a.txt"); err != nil || string(got) != "a, second try" {
			t.Fatalf("Read = %q, %v; want the retry's content", got, err)
		}
	})

	t.Run("the same content from another task keeps the first writer's entry", func(t *testing.T) {
		if _, err := s.Record(ctx, "same", "a", []artifacts.File{{Path: "go.sum", Data: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Record(ctx, "same", "b", []artifacts.File{{Path: "go.sum", Data: []byte("x"), Mode: 0o600}})
		if err != nil {
			t.Fatalf("Record of identical content by another task: %v", err)
		}
		if len(got) != 1 || got[0].Task != "a" || got[0].Mode != 0o644 {
			t.Fatalf("Record returned %+v, want a's entry", got)
		}
		if all := mustFiles(t, s, "same"); !reflect.DeepEqual(all, got) {
			t.Fatalf("Files = %+v, want %+v", all, got)
		}
		if mine, err := s.TaskFiles(ctx, "same", "a"); err != nil || !reflect.DeepEqual(mine, got) {
			t.Fatalf("TaskFiles(a) = %+v, %v; want the shared entry under its first writer", mine, err)
		}
		if mine, _ := s.TaskFiles(ctx, "same", "b"); len(mine) != 0 {
			t.Fatalf("TaskFiles(b) = %+v, want none: the index names the first writer", mine)
		}
	})

	t.Run("the same file twice in one call counts once", func(t *testing.T) {
		f := artifacts.File{Path: "dup.txt", Data: []byte("d")}
		got, err := s.Record(ctx, "dup", "t", []artifacts.File{f, f})
		if err != nil || len(got) != 1 {
			t.Fatalf("Record = %+v, %v; want one entry", got, err)
		}
	})

	t.Run("one path twice in one call with different content is refused", func(t *testing.T) {
		_, err := s.Record(ctx, "dup2", "t", []artifacts.File{
			{Path: "x", Data: []byte("1")},
			{Path: "x", Data: []byte("2")},
		})
		if !errors.Is(err, artifacts.ErrConflict) {
			t.Fatalf("Record = %v, want ErrConflict", err)
		}
	})
}

func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	s := newEnv(b, artifacts.Limits{}).store
	// Each task records one small file of its own, as a diag task does.
	record := func(i int64) error {
		task := fmt.Sprintf("task-%d", i)
		files := []artifacts.File{{Path: "out/" + task + ".txt", Data: []byte("result of " + task + "\n")}}
		_, err := s.Record(ctx, "bench", task, files)
		return err
	}
	var next atomic.Int64
	b.Run("one task at a time", func(b *testing.B) {
		for b.Loop() {
			if err := record(next.Add(1)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	})
	b.Run("tasks in parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := record(next.Add(1)); err != nil {
					b.Error(err) // Fatal may not be called from this goroutine
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	})
}
