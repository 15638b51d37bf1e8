// Package artifacts owns everything tasks produce: the content-addressed
// blobs that hold it in Redis, the index that says which path of a job holds
// which blob and which task wrote it, and the rules that keep those paths
// safe to write to any disk.
//
// # Blobs
//
// A blob is stored under the hex SHA-256 of its content, written once with
// SET NX, so identical files of many tasks and jobs share one copy and a
// retried write changes nothing. A blob larger than Limits.ChunkSize is
// split into chunks, each an ordinary blob, plus a chunk list naming them
// in order; the list is written after its chunks, so a reader that finds
// the list finds the chunks. Reading verifies the digest of what it read.
//
// # Index
//
// Each job has one index, a hash from the case-folded path to its Entry
// (path as written, digest, size, mode, producing task): paths that differ
// only in case meet in one field (see fold for what "case" covers).
// Store.Record adds a task's files in one Lua script, all or nothing,
// refusing a path another task filled with different content and paths
// that differ only in case. The script's rules are the Lua function in
// IndexLua, which the ledger's completion script also builds on, so that a
// worker records a task's artifacts and completes it in one atomic step
// (see Prepare and Recording). The index shares the job's hash tag, so the
// scripts run on Redis Cluster. On one Redis node, blob writes and the
// index update share a round trip.
//
// # Paths
//
// ValidatePath states what an artifact path may be: clean, relative,
// slash-separated, without "..", control characters or names that Windows
// reserves. Record applies it to every file before it stores anything.
//
// # Example
//
//	store := artifacts.NewStore(rdb, "", artifacts.Limits{})
//	entries, err := store.Record(ctx, "job-1", "design", []artifacts.File{
//		{Path: "docs/design.md", Data: []byte("# Design\n")},
//		{Path: "bin/run.sh", Data: script, Mode: 0o755},
//	})
//	var conflict *artifacts.ConflictError
//	if errors.As(err, &conflict) {
//		log.Printf("%s and %s both wrote %s", conflict.Task, conflict.OtherTask, conflict.Path)
//	}
//	files, err := store.Files(ctx, "job-1")          // sorted by path
//	data, err := store.Read(ctx, "job-1", "docs/design.md")
package artifacts
