// Package llmagent runs a role's subtasks with a language model that works
// through tools: it lists and reads the artifacts of the subtask's upstream
// subtasks, writes files that become the subtask's artifacts, and calls
// finish with a summary. The provider is Anthropic's Messages API.
//
//	skill := llmagent.Skill(llmagent.Config{Model: "claude-sonnet-4-5", MaxTurns: 20})
//	reg.Register(specialists.RoleMLArchitect, "design", skill)
//
// Each model call can go through a Cache keyed by the request's content, so
// a task retried after a crash, or run again, replays the answers it already
// paid for; NewRedisCache keeps them in Redis.
package llmagent
