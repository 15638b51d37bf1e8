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
// Each job has one index from path to Entry (digest, size, mode, producing
// task) and, per task, the set of paths it produced. Store.Record adds a
// task's files to both in one Lua script, all or nothing, refusing a path
// another task filled with different content and paths that differ only in
// case (see fold for what "case" covers). All keys of a job's index share
// its hash tag, so the script runs on Redis Cluster. Record costs two round
// trips: one pipeline of blob writes, then the script.
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
