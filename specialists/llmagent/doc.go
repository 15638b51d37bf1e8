// Package llmagent runs a role's subtasks with a language model that works
// through tools: it lists and reads the artifacts of the subtask's upstream
// subtasks, writes files that become the subtask's artifacts, and calls
// finish with a summary. The provider is Anthropic's Messages API, or the
// chat completions API of OpenAI and of compatible servers such as Ollama
// and vLLM; the tools and the cache are the same for both.
//
//	skill := llmagent.Skill(llmagent.Config{Model: "claude-sonnet-4-5", MaxTurns: 20})
//	reg.Register(specialists.RoleMLArchitect, "design", skill)
//
//	local := llmagent.Skill(llmagent.Config{Provider: llmagent.ProviderOpenAI,
//		Model: "llama3.1", BaseURL: "http://localhost:11434/v1"})
//	reg.Register(specialists.RoleMLArchitect, "review", local)
//
// Each model call can go through a Cache keyed by the request's content, so
// a task retried after a crash, or run again, replays the answers it already
// paid for; NewRedisCache keeps them in Redis.
package llmagent
