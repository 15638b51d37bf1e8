package roleconfig_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchestrate-dev/orchestrate/specialists/roleconfig"
)

func TestTheDocumentedExampleParses(t *testing.T) {
	c, err := roleconfig.Parse([]byte(`roles:
  ml-systems-architect:
    executor: llm
    provider: anthropic
    model: claude-sonnet-4-5
    base_url: https://api.anthropic.com
    api_key_env: ANTHROPIC_API_KEY
    max_turns: 20
  data-pipeline-engineer:
    executor: exec
    command: ["./agents/pipeline.sh"]
    timeout: 10m
    permanent_exit_codes: [2]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Roles["data-pipeline-engineer"]
	if p.Executor != "exec" || p.Command[0] != "./agents/pipeline.sh" || time.Duration(p.Timeout) != 10*time.Minute || p.PermanentExitCodes[0] != 2 {
		t.Errorf("exec role %+v", p)
	}
	if a := c.Roles["ml-systems-architect"]; a.Provider != "anthropic" || a.MaxTurns != 20 || a.APIKeyEnv != "ANTHROPIC_API_KEY" {
		t.Errorf("llm role %+v", a)
	}
}

func TestBadRolesFilesNameWhatIsWrong(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"roles:\n  r:\n    executor: exec\n    comand: [x]\n", "line 4: field comand not found"},
		{"roles:\n  r:\n    executor: exec\n", "roles.r: the exec executor needs a command"},
		{"roles:\n  r:\n    executor: magic\n", `executor "magic"`},
		{"roles:\n  r:\n    executor: llm\n    provider: acme\n    model: m\n", `provider "acme"`},
		{"roles:\n  r:\n    executor: exec\n    command: [x]\n    timeout: soon\n", `"soon" is not a duration`},
		{"roles: [1, 2]\n", "roles"},
	} {
		_, err := roleconfig.Parse([]byte(tc.file))
		if !errors.Is(err, roleconfig.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one saying %q", tc.file, err, tc.want)
		}
	}
	if c, err := roleconfig.Parse(nil); err != nil || len(c.Roles) != 0 {
		t.Errorf("an empty file: %v, %v", c, err)
	}
}

// The JSON Schema in the repository names exactly the fields of a role.
func TestTheJSONSchemaNamesEveryField(t *testing.T) {
	data, err := os.ReadFile("../../docs/roles.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs struct {
			Role struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"role"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for k := range schema.Defs.Role.Properties {
		got = append(got, k)
	}
	typ := reflect.TypeFor[roleconfig.Role]()
	for i := range typ.NumField() {
		want = append(want, strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the schema has %v, roleconfig.Role %v", got, want)
	}
}
