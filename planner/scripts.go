package planner

import (
	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

// Task states in the ledger.
const (
	StatePending   = "pending"   // waiting for dependencies
	StateReady     = "ready"     // dependencies met, not yet published
	StateQueued    = "queued"    // published to its subject
	StateRunning   = "running"   // an agent is executing it
	StateRetrying  = "retrying"  // failed, will be redelivered
	StateSucceeded = "succeeded" // done; its artifacts are recorded
	StateDead      = "dead"      // failed for good; in the dead-letter stream
	StateBlocked   = "blocked"   // an upstream task is dead
)

// Job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// startScript claims a task for an agent that has run it for a while.
//
// KEYS[1] task hash
// ARGV[1] worker id, ARGV[2] now (unix ms), ARGV[3] generation of the
// message, ARGV[4] lease (ms), ARGV[5] attempts so far, this one included
//
// Returns {verdict, n}: verdict "run" when the agent holds the task now,
// with n the attempts; "busy" when another agent holds an unexpired lease
// on it (a redelivery raced a slow agent), with n the ms left; otherwise
// the reason to stop with n = 0: "missing" (no such task), "stale" (an
// older generation), "waiting" (dependencies not met), or the terminal
// state ("succeeded", "dead", "blocked").
var startScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'state', 'gen', 'deps_left', 'worker', 'lease_ms')
local st = f[1]
if not st then return {'missing', 0} end
if tonumber(ARGV[3]) < tonumber(f[2] or '0') then return {'stale', 0} end
if st == 'succeeded' or st == 'dead' or st == 'blocked' then return {st, 0} end
if tonumber(f[3] or '0') > 0 then return {'waiting', 0} end
local now = tonumber(ARGV[2])
if st == 'running' and f[4] ~= ARGV[1] then
  local left = tonumber(f[5] or '0') - now
  if left > 0 then return {'busy', left} end
end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[1], 'started_ms', ARGV[2],
  'lease_ms', now + tonumber(ARGV[4]), 'attempts', ARGV[5])
return {'run', tonumber(ARGV[5])}
`)

// extendScript renews an agent's lease on a running task.
//
// KEYS[1] task hash; ARGV[1] worker id, ARGV[2] lease end (unix ms)
//
// Returns 1, or 0 when the task is no longer this worker's running task.
var extendScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'state', 'worker')
if f[1] == 'running' and f[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'lease_ms', ARGV[2])
  return 1
end
return 0
`)

// completeScript records a task's artifacts, marks it succeeded and
// releases its dependents, in one atomic step.
//
// KEYS[1] task hash, KEYS[2] job hash, KEYS[3] the job's files hash (as
// record_files of artifacts.IndexLua takes it)
// ARGV[1] key base of the job ("<prefix>{<job>}:"), ARGV[2] now (unix ms),
// ARGV[3] summary, ARGV[4] worker, ARGV[5] start of the execution (unix
// ms), ARGV[6] attempts, ARGV[7] generation of the message, ARGV[8] task
// id, ARGV[9] number of files n, then n triples of path, folded path,
// entry JSON
//
// The dependents' task hashes are built from ARGV[1]; they share the job's
// hash tag, so they live in the same cluster slot.
//
// Returns {first, job_done, k, record reply (k items)..., msg...}: first is
// 1 when this call made the task succeed, 0 for a redelivery of a succeeded
// task (whose artifacts are not recorded again), and -1 when recording was
// refused, in which case nothing changed, and -2 when the message is of an
// older generation than the task (it was replayed), likewise; job_done is 1 when this call
// finished the job; the record reply is that of record_files (empty for a
// redelivery); then the stored messages of every dependent that is ready
// but not yet queued, for the caller to publish.
var completeScript = redis.NewScript(artifacts.IndexLua + completeLua + `
local out = complete_one(KEYS[1], KEYS[2], KEYS[3], ARGV, 0)
if out[1] == -3 then return redis.error_reply(out[2]) end
return out
`)

// completeBatchScript completes many tasks in one call, which spares the
// per-call cost of a script when agents finish tasks at a high rate. Only
// used against a single Redis node: the tasks may belong to different jobs
// and so to different cluster slots.
//
// KEYS three per task, as completeScript takes them
// ARGV[1] number of tasks k, then per task the count of its arguments and
// the arguments, as completeScript takes them
//
// Returns one reply per task, as completeScript's, where an error is
// {-3, message} rather than an error reply.
var completeBatchScript = redis.NewScript(artifacts.IndexLua + completeLua + `
local replies, a = {}, 2
for i = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a])
  replies[i] = complete_one(KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i], ARGV, a)
  a = a + 1 + n
end
return replies
`)

// completeLua defines complete_one(kt, kj, kf, A, o): completeScript's work
// for the task hash kt, job hash kj and files hash kf, reading its i-th
// argument at A[o+i].
const completeLua = `
local function complete_one(kt, kj, kf, A, o)
  local f = redis.call('HMGET', kt, 'state', 'dependents', 'gen')
  local st = f[1]
  if not st then return {-3, 'no such task'} end
  if tonumber(A[o+7]) < tonumber(f[3] or '0') then return {-2, 0, 0} end
  local deps = {}
  if f[2] and f[2] ~= '' then
    for d in string.gmatch(f[2], '[^,]+') do deps[#deps+1] = d end
  end
  local out = {0, 0, 0}
  if st ~= 'succeeded' then
    if st == 'dead' or st == 'blocked' then return {-3, 'task is ' .. st} end
    local rec = record_files(kf, A[o+8], A, o+10, tonumber(A[o+9]))
    out[3] = #rec
    for _, v in ipairs(rec) do out[#out+1] = v end
    if rec[1] ~= 'ok' then
      out[1] = -1
      return out
    end
    out[1] = 1
    redis.call('HSET', kt, 'state', 'succeeded', 'finished_ms', A[o+2], 'error', '', 'summary', A[o+3],
      'worker', A[o+4], 'started_ms', A[o+5], 'attempts', A[o+6])
    local rem = redis.call('HINCRBY', kj, 'remaining', -1)
    for _, d in ipairs(deps) do
      local dk = A[o+1] .. 'task:' .. d
      if redis.call('HINCRBY', dk, 'deps_left', -1) == 0 and redis.call('HGET', dk, 'state') == 'pending' then
        redis.call('HSET', dk, 'state', 'ready')
      end
    end
    if rem == 0 then
      redis.call('HSET', kj, 'state', 'succeeded', 'finished_ms', A[o+2])
      out[2] = 1
    end
  end
  for _, d in ipairs(deps) do
    local g = redis.call('HMGET', A[o+1] .. 'task:' .. d, 'state', 'msg')
    if g[1] == 'ready' then out[#out+1] = g[2] end
  end
  return out
end
`

// queuedScript records that ready tasks were published.
//
// KEYS task hashes; ARGV[1] now (unix ms)
//
// Only a task still "ready" changes: an agent may already have started it.
// Returns the number of tasks changed.
var queuedScript = redis.NewScript(`
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('HGET', k, 'state') == 'ready' then
    redis.call('HSET', k, 'state', 'queued', 'queued_ms', ARGV[1])
    n = n + 1
  end
end
return n
`)

// retryScript records a transient failure.
//
// KEYS[1] task hash; ARGV[1] error text, ARGV[2] now (unix ms), ARGV[3]
// attempts, ARGV[4] worker, ARGV[5] start of the execution (unix ms)
//
// Returns 1, or 0 when the task was already terminal.
var retryScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'succeeded' or st == 'dead' or st == 'blocked' or not st then return 0 end
redis.call('HSET', KEYS[1], 'state', 'retrying', 'error', ARGV[1], 'failed_ms', ARGV[2],
  'attempts', ARGV[3], 'worker', ARGV[4], 'started_ms', ARGV[5])
return 1
`)

// deadScript records a failure for good and blocks everything downstream.
//
// KEYS[1] task hash, KEYS[2] job hash
// ARGV[1] key base of the job, ARGV[2] task id, ARGV[3] error text,
// ARGV[4] now (unix ms), ARGV[5] attempts, ARGV[6] worker, ARGV[7] start
// of the last execution (unix ms)
//
// Returns {job_failed_now, blocked ids...}; job_failed_now is 1 when this
// call moved the job to failed.
var deadScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('no such task') end
if st == 'succeeded' then return {0} end
local out = {0}
if st ~= 'dead' then
  redis.call('HSET', KEYS[1], 'state', 'dead', 'error', ARGV[3], 'finished_ms', ARGV[4],
    'attempts', ARGV[5], 'worker', ARGV[6], 'started_ms', ARGV[7])
  redis.call('HINCRBY', KEYS[2], 'dead', 1)
end
if redis.call('HGET', KEYS[2], 'state') == 'running' then
  redis.call('HSET', KEYS[2], 'state', 'failed', 'finished_ms', ARGV[4])
  out[1] = 1
end
redis.call('HSET', KEYS[2], 'updated_ms', ARGV[4])
local queue, seen = {ARGV[2]}, {}
while #queue > 0 do
  local id = table.remove(queue)
  local list = redis.call('HGET', ARGV[1] .. 'task:' .. id, 'dependents') or ''
  for d in string.gmatch(list, '[^,]+') do
    if not seen[d] then
      seen[d] = true
      local dk = ARGV[1] .. 'task:' .. d
      local ds = redis.call('HGET', dk, 'state')
      if ds ~= 'succeeded' and ds ~= 'dead' and ds ~= 'blocked' then
        redis.call('HSET', dk, 'state', 'blocked', 'error', 'upstream task ' .. ARGV[2] .. ' is dead')
        table.insert(out, d)
      end
      table.insert(queue, d)
    end
  end
end
return out
`)

// replayScript puts a dead task back: a new generation and message, the
// state ready (its publication follows), the job running again, and the
// tasks blocked because of it pending again, unless another input of
// theirs is still dead.
//
// KEYS[1] task hash, KEYS[2] job hash
// ARGV[1] key base of the job, ARGV[2] task id, ARGV[3] generation the
// caller read, ARGV[4] the new generation, ARGV[5] the new message,
// ARGV[6] now (unix ms)
//
// Returns {1, unblocked ids...}, or {0, state} when the task is not dead
// (or was replayed meanwhile).
var replayScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('no such task') end
if st ~= 'dead' or redis.call('HGET', KEYS[1], 'gen') ~= ARGV[3] then return {0, st} end
redis.call('HSET', KEYS[1], 'state', 'ready', 'gen', ARGV[4], 'msg', ARGV[5], 'replayed_ms', ARGV[6])
redis.call('HDEL', KEYS[1], 'worker', 'lease_ms')
local dead = redis.call('HINCRBY', KEYS[2], 'dead', -1)
if dead <= 0 and redis.call('HGET', KEYS[2], 'state') == 'failed' then
  redis.call('HSET', KEYS[2], 'state', 'running')
  redis.call('HDEL', KEYS[2], 'finished_ms', 'error')
end
redis.call('HSET', KEYS[2], 'updated_ms', ARGV[6])
local out = {1}
local queue, seen = {ARGV[2]}, {}
while #queue > 0 do
  local id = table.remove(queue, 1)
  local list = redis.call('HGET', ARGV[1] .. 'task:' .. id, 'dependents') or ''
  for d in string.gmatch(list, '[^,]+') do
    if not seen[d] then
      seen[d] = true
      local dk = ARGV[1] .. 'task:' .. d
      if redis.call('HGET', dk, 'state') == 'blocked' then
        local still = false
        local ok, msg = pcall(cjson.decode, redis.call('HGET', dk, 'msg') or '')
        if ok and type(msg) == 'table' and type(msg.inputs) == 'table' then
          for _, in_id in ipairs(msg.inputs) do
            if redis.call('HGET', ARGV[1] .. 'task:' .. in_id, 'state') == 'dead' then still = true end
          end
        end
        if not still then
          redis.call('HSET', dk, 'state', 'pending')
          redis.call('HDEL', dk, 'error')
          table.insert(out, d)
          table.insert(queue, d)
        end
      end
    end
  end
end
return out
`)
