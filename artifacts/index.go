package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// IndexLua defines the Lua function record_files, which adds one task's
// files to its job's index, all or nothing: it checks every file before it
// writes any. Other packages' scripts that must record artifacts in the
// same atomic step (the ledger's completion) are built from it, so the
// rules live here alone.
//
//	record_files(files_key, task, args, first, n)
//
// files_key is <prefix>{<job>}:files, a hash from the case-folded path to
// the entry JSON (which holds the path as written): keying by the folded
// path makes paths that differ only in case one field, so one lookup finds
// both a rewrite and a collision. The i-th of the n files (i from 1),
// sorted by path and free of duplicates, is described by
// args[first+3(i-1)] path, args[first+3(i-1)+1] folded path and
// args[first+3(i-1)+2] entry JSON.
//
// It returns {"conflict", path, other path, other task} and writes
// nothing when a path differs only in case from another recorded path, or
// another task already wrote different content to it. Otherwise it returns
// {"ok", i, entry, i, entry, ...}: the positions of the files another task
// had already written with the same content, with that task's entry, which
// the index keeps. A task rewriting its own path (a retry whose output
// changed) overwrites its entry.
const IndexLua = `
local function record_files(files_key, task, args, first, n)
  local kept = {}
  for i = 1, n do
    local j = first + 3*(i-1)
    local path, entry = args[j], args[j+2]
    local cur = redis.call("HGET", files_key, args[j+1])
    if cur and cur ~= entry then
      local c = cjson.decode(cur)
      if c.path ~= path then
        return {"conflict", path, c.path, c.task}
      end
      if c.task ~= task then
        if c.digest ~= cjson.decode(entry).digest then
          return {"conflict", path, path, c.task}
        end
        kept[i] = cur
      end
    end
  end
  local reply = {"ok"}
  for i = 1, n do
    local j = first + 3*(i-1)
    if kept[i] then
      reply[#reply+1] = tostring(i)
      reply[#reply+1] = kept[i]
    else
      redis.call("HSET", files_key, args[j+1], args[j+2])
    end
  end
  return reply
end
`

// recordScript records one task's files.
//
// KEYS[1] files hash
// ARGV[1] task id, ARGV[2] number of files n, then n triples of path,
// folded path, entry JSON
//
// Returns what record_files returns.
var recordScript = redis.NewScript(IndexLua + `
return record_files(KEYS[1], ARGV[1], ARGV, 3, tonumber(ARGV[2]))
`)

// Record stores the files task produced and adds them to job's index, and
// returns their entries sorted by path.
//
// Every path is checked first (ValidatePath, MaxPathLen, MaxFileSize): a
// refused file fails the whole call with a *PathError naming the task,
// wrapping ErrInvalidPath or ErrTooLarge, and nothing is stored. Paths
// equal under case folding, whether within the call or against another
// task's paths, and a path another task filled with different content fail
// the call with a *ConflictError wrapping ErrConflict, and nothing is
// indexed. The same path twice in one call with the same content counts
// once.
//
// Recording what the index already holds, as a redelivered task does, is a
// no-op. A task recording its own path again with new content, as a retry
// whose output changed does, replaces its entry; paths an earlier attempt
// recorded and the retry did not stay in the index. When another task
// already recorded a path with the same content, the index keeps that
// task's entry and Record returns it.
//
// A file whose Mode has no permission bits gets 0o644; bits other than
// permissions are dropped.
func (s *Store) Record(ctx context.Context, job, task string, files []File) ([]Entry, error) {
	r, err := s.Prepare(job, task, files)
	if err != nil {
		return nil, err
	}
	if len(r.entries) == 0 {
		return r.entries, nil
	}
	if err := r.WriteBlobs(ctx); err != nil {
		return nil, err
	}
	var cmd *redis.Cmd
	pipe := s.rdb.Pipeline()
	r.QueueBlobs(ctx, pipe)
	cmd = recordScript.Eval(ctx, pipe, r.IndexKeys(), r.IndexArgs()...)
	if _, err := pipe.Exec(ctx); err != nil && cmd.Err() == nil {
		return nil, fmt.Errorf("record artifacts of task %s in job %s: store blobs: %w", task, job, err)
	}
	reply, err := cmd.StringSlice()
	if err != nil {
		return nil, fmt.Errorf("record artifacts of task %s in job %s: %w", task, job, err)
	}
	return r.Apply(reply)
}

// Recording is a Record split into steps, so that a caller can record the
// artifacts inside a script of its own that builds on IndexLua: the ledger
// records a task's artifacts and completes it in one atomic step.
type Recording struct {
	s         *Store
	job, task string
	entries   []Entry
	w         blobWrites
	args      []any
	// inline is true when the blob writes may share the index round trip:
	// one Redis node and no chunk lists, which must follow their chunks.
	inline bool
}

// Prepare validates files and plans their storage without touching Redis.
// Its errors are those of Record for bad paths and sizes.
func (s *Store) Prepare(job, task string, files []File) (*Recording, error) {
	if job == "" || task == "" {
		return nil, fmt.Errorf("record artifacts: job and task ids must not be empty (job %q, task %q)", job, task)
	}
	r := &Recording{s: s, job: job, task: task}
	entries, err := s.plan(&r.w, task, files)
	if err != nil {
		return nil, fmt.Errorf("record artifacts in job %s: %w", job, err)
	}
	r.entries = entries
	r.args = make([]any, 2, 2+3*len(entries))
	r.args[0], r.args[1] = task, len(entries)
	for _, e := range entries {
		js, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("record artifacts of task %s in job %s: encode entry %s: %w", task, job, e.Path, err)
		}
		r.args = append(r.args, e.Path, fold(e.Path), js)
	}
	_, cluster := s.rdb.(*redis.ClusterClient)
	r.inline = !cluster && len(r.w.lists) == 0
	return r, nil
}

// WriteBlobs stores, ahead of the index update, the blobs that cannot share
// its round trip: on Redis Cluster they live on other nodes, and a chunk
// list must never be visible before its chunks. Otherwise it does nothing.
func (r *Recording) WriteBlobs(ctx context.Context) error {
	if r.inline || len(r.entries) == 0 {
		return nil
	}
	if err := r.s.writeBlobs(ctx, &r.w); err != nil {
		return fmt.Errorf("record artifacts of task %s in job %s: store blobs: %w", r.task, r.job, err)
	}
	return nil
}

// QueueBlobs adds the blob writes that WriteBlobs left to pipe. Queue them
// before the index update: Redis runs a connection's commands in order, so
// the index never names a blob written after it.
func (r *Recording) QueueBlobs(ctx context.Context, pipe redis.Pipeliner) {
	if !r.inline {
		return
	}
	for _, kv := range r.w.whole {
		pipe.SetNX(ctx, kv.key, kv.value, 0)
	}
}

// IndexKeys are the keys record_files takes: the job's files hash.
func (r *Recording) IndexKeys() []string { return []string{r.s.keys.Files(r.job)} }

// IndexArgs are the task id, the number of files and their triples, as
// record_files reads them.
func (r *Recording) IndexArgs() []any { return r.args }

// Apply interprets the reply of record_files and returns the entries
// sorted by path as Record does; a refusal is a *ConflictError.
func (r *Recording) Apply(reply []string) ([]Entry, error) {
	if err := applyReply(r.entries, r.task, reply); err != nil {
		return nil, fmt.Errorf("record artifacts of task %s in job %s: %w", r.task, r.job, err)
	}
	return r.entries, nil
}

// plan validates files, plans their blob writes into w and returns their
// entries sorted by path, without duplicates.
func (s *Store) plan(w *blobWrites, task string, files []File) ([]Entry, error) {
	entries := make([]Entry, 0, len(files))
	byFold := make(map[string]int, len(files)) // folded path -> index in entries
	for _, f := range files {
		if pe := validatePath(f.Path, s.limits.MaxPathLen); pe != nil {
			pe.Task = task
			return nil, pe
		}
		if n := int64(len(f.Data)); n > s.limits.MaxFileSize {
			return nil, &PathError{Path: f.Path, Task: task, Err: ErrTooLarge,
				Reason: fmt.Sprintf("is %d bytes, over the limit of %d bytes", n, s.limits.MaxFileSize)}
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		e := Entry{Path: f.Path, Digest: s.addBlob(w, f.Data), Size: int64(len(f.Data)), Mode: mode, Task: task}
		if i, ok := byFold[fold(f.Path)]; ok {
			prev := entries[i]
			if prev.Path == e.Path && prev.Digest == e.Digest {
				continue
			}
			return nil, &ConflictError{Path: e.Path, Task: task, OtherPath: prev.Path, OtherTask: task}
		}
		byFold[fold(f.Path)] = len(entries)
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}

// applyReply turns the reply of recordScript into a *ConflictError, or
// puts the entries the index kept from other tasks into entries.
func applyReply(entries []Entry, task string, reply []string) error {
	if len(reply) == 4 && reply[0] == "conflict" {
		return &ConflictError{Path: reply[1], Task: task, OtherPath: reply[2], OtherTask: reply[3]}
	}
	if len(reply) == 0 || reply[0] != "ok" || len(reply)%2 != 1 {
		return fmt.Errorf("unexpected reply from index script: %q", reply)
	}
	for k := 1; k < len(reply); k += 2 {
		i, err := strconv.Atoi(reply[k])
		if err != nil || i < 1 || i > len(entries) {
			return fmt.Errorf("unexpected position %q in reply from index script", reply[k])
		}
		if err := json.Unmarshal([]byte(reply[k+1]), &entries[i-1]); err != nil {
			return fmt.Errorf("decode index entry of %s: %w", entries[i-1].Path, err)
		}
	}
	return nil
}

// Files lists job's artifacts sorted by path; a job with none has an empty
// list.
func (s *Store) Files(ctx context.Context, job string) ([]Entry, error) {
	vals, err := s.rdb.HVals(ctx, s.keys.Files(job)).Result()
	if err != nil {
		return nil, fmt.Errorf("list artifacts of job %s: %w", job, err)
	}
	entries, err := decodeEntries(vals)
	if err != nil {
		return nil, fmt.Errorf("list artifacts of job %s: %w", job, err)
	}
	return entries, nil
}

// TaskFiles lists the artifacts the index credits to task, sorted by path:
// a file that another task had already written with the same content is
// credited to that first writer. It reads the job's whole index.
func (s *Store) TaskFiles(ctx context.Context, job, task string) ([]Entry, error) {
	all, err := s.Files(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("list artifacts of task %s: %w", task, err)
	}
	var mine []Entry
	for _, e := range all {
		if e.Task == task {
			mine = append(mine, e)
		}
	}
	return mine, nil
}

// Read returns the content of job's artifact at path. The error wraps
// ErrNotFound when the job has no such artifact, and ErrCorrupt when its
// blob does not match its digest.
func (s *Store) Read(ctx context.Context, job, path string) ([]byte, error) {
	js, err := s.rdb.HGet(ctx, s.keys.Files(job), fold(path)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read artifact %q of job %s: %w", path, job, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read artifact %q of job %s: %w", path, job, err)
	}
	var e Entry
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		return nil, fmt.Errorf("read artifact %q of job %s: decode index entry: %w", path, job, err)
	}
	if e.Path != path { // the same path but for case
		return nil, fmt.Errorf("read artifact %q of job %s: %w", path, job, ErrNotFound)
	}
	data, err := s.Blob(ctx, e.Digest)
	if err != nil {
		return nil, fmt.Errorf("read artifact %q of job %s: %w", path, job, err)
	}
	return data, nil
}

func decodeEntries(vals []string) ([]Entry, error) {
	entries := make([]Entry, len(vals))
	for i, v := range vals {
		if err := json.Unmarshal([]byte(v), &entries[i]); err != nil {
			return nil, fmt.Errorf("decode index entry %q: %w", v, err)
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}
