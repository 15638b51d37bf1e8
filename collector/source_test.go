package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	"github.com/orchestrate-dev/orchestrate/artifacts"
)

// memSource is an in-memory Source: the collector's input, as a store
// would hand it over, built directly from files.
type memSource struct {
	mu      sync.Mutex
	entries map[string][]artifacts.Entry // by job
	blobs   map[string][]byte            // by digest
}

func newMemSource() *memSource {
	return &memSource{entries: map[string][]artifacts.Entry{}, blobs: map[string][]byte{}}
}

// add records path in job as written by task.
func (s *memSource) add(job, task, path string, data []byte, mode fs.FileMode) *memSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(data)
	d := hex.EncodeToString(sum[:])
	s.blobs[d] = append([]byte(nil), data...)
	s.entries[job] = append(s.entries[job], artifacts.Entry{Path: path, Digest: d, Size: int64(len(data)), Mode: mode, Task: task})
	sort.Slice(s.entries[job], func(i, j int) bool { return s.entries[job][i].Path < s.entries[job][j].Path })
	return s
}

// corrupt replaces the content stored for path in job, keeping its digest.
func (s *memSource) corrupt(job, path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries[job] {
		if e.Path == path {
			s.blobs[e.Digest] = data
		}
	}
}

func (s *memSource) Files(_ context.Context, job string) ([]artifacts.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]artifacts.Entry(nil), s.entries[job]...), nil
}

func (s *memSource) Blob(_ context.Context, digest string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", digest, artifacts.ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}

var _ Source = (*artifacts.Store)(nil) // the store is what workers pass
