package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDatagenFlagsBecomeOptions(t *testing.T) {
	f, _, _ := testFactory()
	var got *DatagenOptions
	cmd := NewCmdDatagen(f, func(_ context.Context, o *DatagenOptions) error { got = o; return nil })
	if err := parse(t, f, cmd, "datagen", "churn", "--rows", "5", "--seed", "9", "--out", "x.csv"); err != nil {
		t.Fatal(err)
	}
	if *got != (DatagenOptions{Rows: 5, Seed: 9, Out: "x.csv"}) {
		t.Errorf("options = %+v", *got)
	}
	f, _, _ = testFactory()
	checkParse(t, parse(t, f, NewCmdDatagen(f, nil), "datagen", "churn", "--rows", "0", "--out", "x"), "--rows 0")
	f, _, _ = testFactory()
	checkParse(t, parse(t, f, NewCmdDatagen(f, nil), "datagen", "churn"), "--out FILE is required")
}

func TestDatagenWritesTheFileWholeOrNotAtAll(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "churn.csv")
	code, _, stderr := execute(t, "datagen", "churn", "--rows", "1000", "--seed", "3", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil || bytes.Count(data, []byte("\n")) != 1001 {
		t.Fatalf("%d lines, %v", bytes.Count(data, []byte("\n")), err)
	}
	again := filepath.Join(dir, "again.csv")
	execute(t, "datagen", "churn", "--rows", "1000", "--seed", "3", "--out", again)
	if other, _ := os.ReadFile(again); !bytes.Equal(data, other) {
		t.Error("the same seed gave different files")
	}
	code, _, stderr = execute(t, "datagen", "churn", "--rows", "10", "--out", filepath.Join(dir, "missing", "x.csv"))
	if code != ExitUsage || !strings.Contains(stderr, "missing") {
		t.Errorf("an --out in a missing directory: exit %d, %s", code, stderr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}
