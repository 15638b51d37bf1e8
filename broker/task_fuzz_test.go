package broker_test

import (
	"errors"
	"testing"

	"github.com/orchestrate-dev/orchestrate/broker"
)

// FuzzDecodeTask: whatever arrives on a task subject, decoding returns a
// task that encodes back to a decodable message, or ErrBadMessage; never
// a panic.
func FuzzDecodeTask(f *testing.F) {
	good := &broker.Task{Job: "j1", ID: "t1", Role: "diag", Skill: "noop", Priority: broker.High,
		Params: map[string]string{"duration": "1s"}, Inputs: []string{"a", "b"}}
	data, err := good.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"v":1,"job":"j","task":"t","role":"r","skill":"s"}`))
	f.Add([]byte(`{"v":2,"job":"j","task":"t","role":"r","skill":"s"}`))
	f.Add([]byte(`{"v":1,"job":"../x","task":"t","role":"r","skill":"s"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := broker.DecodeTask(data)
		if err != nil {
			if !errors.Is(err, broker.ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		again, err := broker.DecodeTask(mustEncode(t, task.AtGeneration(task.Generation)))
		if err != nil {
			t.Fatalf("a task it accepted does not decode again: %v", err)
		}
		if again.MsgID() != task.MsgID() || again.Role != task.Role {
			t.Fatalf("re-encoding changed the task: %+v vs %+v", again, task)
		}
	})
}

func mustEncode(t *testing.T, task *broker.Task) []byte {
	t.Helper()
	data, err := task.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
