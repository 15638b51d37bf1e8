package broker_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orchestrate-dev/orchestrate/broker"
)

func TestDecodeTaskRefusesWhatCanNeverRun(t *testing.T) {
	cases := []struct{ name, data, want string }{
		{"malformed JSON", `{"v":1,`, "unexpected end"},
		{"a wrong version", `{"v":9,"job":"j","task":"t","role":"r","skill":"s","priority":"normal"}`, "version 9"},
		{"a job id with a dot", `{"v":1,"job":"j.x","task":"t","role":"r","skill":"s","priority":"normal"}`, `invalid job "j.x"`},
		{"no skill", `{"v":1,"job":"j","task":"t","role":"r","priority":"normal"}`, "no skill"},
		{"an unknown priority", `{"v":1,"job":"j","task":"t","role":"r","skill":"s","priority":"asap"}`, "unknown priority"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := broker.DecodeTask([]byte(c.data))
			if !errors.Is(err, broker.ErrBadMessage) {
				t.Fatalf("err = %v, want ErrBadMessage", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestTaskRoundTrips(t *testing.T) {
	in := &broker.Task{Job: "j", ID: "t", Role: "diag", Skill: "noop", Priority: broker.High, Params: map[string]string{"k": "v"}, Inputs: []string{"a"}, Generation: 2}
	data, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := broker.DecodeTask(data)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != "t" || out.Priority != broker.High || out.Params["k"] != "v" || out.Inputs[0] != "a" || out.Generation != 2 || out.Version != broker.TaskVersion {
		t.Errorf("round trip = %+v", out)
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"a", "Z9", "ml-churn-system-20261126t010203-3fa9c1", "t_1", strings.Repeat("x", 128)} {
		if !broker.ValidID(ok) {
			t.Errorf("ValidID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-a", "_a", "a.b", "a b", "a/b", "a*", "a>", "é", strings.Repeat("x", 129)} {
		if broker.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
