// Package collector owns the last step of every job: assembling the job's
// tree from the artifact index into a directory, checking the index on the
// way (path safety, paths that collide under case folding, files that are
// also directories, blobs that do not match their digest), reading the
// tree's orchestrate.yaml manifest, running the test command it declares
// in a scrubbed, offline environment, and the Report of that run.
//
// The job succeeds only when its tree's own tests pass: the collector role's
// Skill turns failing tests, and everything else a retry cannot fix, into a
// permanent error.
//
// A worker registers the skill:
//
//	store := artifacts.NewStore(rdb, "orch:", artifacts.Limits{})
//	reg.Register(specialists.RoleCollector, "assemble", collector.Skill(store, collector.DefaultRunOptions(), nil))
//
// The CLI refuses an unusable --out before submitting a job, and writes the
// finished tree there afterwards:
//
//	if err := collector.CheckWritable(out); err != nil {
//		return err
//	}
//	// ... the job runs ...
//	tree, err := collector.Assemble(ctx, store, job, out)
//	if err != nil {
//		return err
//	}
//	data, err := store.Read(ctx, job, collector.ReportPath)
//	if err != nil {
//		return err
//	}
//	report, err := collector.ReadReport(data)
//	if err != nil {
//		return err
//	}
//	fmt.Printf("%d files in %s, tests passed: %v\n", tree.Files, tree.Dir, report.Passed)
package collector
