package artifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/internal/keys"
)

const (
	defaultMaxFileSize = 64 << 20
	defaultChunkSize   = 1 << 20
)

// Limits bound what a task may store.
type Limits struct {
	// MaxFileSize is the largest artifact, in bytes. If zero, 64 MiB.
	MaxFileSize int64
	// MaxPathLen is the longest artifact path, in bytes. If zero, 1024.
	MaxPathLen int
	// ChunkSize is the largest blob stored as one Redis value; bigger
	// blobs are split into parts of this size. If zero, 1 MiB. Small values
	// keep one big artifact from stalling the server while it copies it.
	ChunkSize int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = defaultMaxFileSize
	}
	if l.MaxPathLen <= 0 {
		l.MaxPathLen = defaultMaxPathLen
	}
	if l.ChunkSize <= 0 {
		l.ChunkSize = defaultChunkSize
	}
	return l
}

// Store keeps blobs and the artifact index in Redis. It is safe for
// concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	keys   keys.Space
	limits Limits
}

// NewStore returns a store that keeps its keys under prefix; an empty
// prefix means keys.DefaultPrefix.
func NewStore(rdb redis.UniversalClient, prefix string, limits Limits) *Store {
	return &Store{rdb: rdb, keys: keys.New(prefix), limits: limits.withDefaults()}
}

// Put stores data as a blob and returns its digest, the hex SHA-256 of
// data. Blobs are written once and never changed, so putting the same data
// again costs a round trip and nothing else. Data over MaxFileSize is
// refused with an error wrapping ErrTooLarge.
func (s *Store) Put(ctx context.Context, data []byte) (digest string, err error) {
	if int64(len(data)) > s.limits.MaxFileSize {
		return "", fmt.Errorf("store blob of %d bytes: over the limit of %d bytes: %w", len(data), s.limits.MaxFileSize, ErrTooLarge)
	}
	var w blobWrites
	digest = s.addBlob(&w, data)
	if err := s.writeBlobs(ctx, &w); err != nil {
		return "", fmt.Errorf("store blob %s: %w", digest, err)
	}
	return digest, nil
}

// Blob returns the content of the blob with the given digest. The error
// wraps ErrNotFound when there is no such blob (or digest is not a hex
// SHA-256), and ErrCorrupt when what Redis holds does not hash to digest.
func (s *Store) Blob(ctx context.Context, digest string) ([]byte, error) {
	if !isDigest(digest) {
		return nil, fmt.Errorf("read blob %q: not a hex sha256 digest: %w", digest, ErrNotFound)
	}
	// One round trip whichever way the blob was stored.
	pipe := s.rdb.Pipeline()
	whole := pipe.Get(ctx, s.keys.Blob(digest))
	list := pipe.Get(ctx, s.keys.Chunks(digest))
	_, _ = pipe.Exec(ctx) // errors are read per command below
	for _, cmd := range []*redis.StringCmd{whole, list} {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read blob %s: %w", digest, err)
		}
	}
	var data []byte
	switch {
	case whole.Err() == nil:
		data = []byte(whole.Val())
	case list.Err() == nil:
		var err error
		if data, err = s.readChunks(ctx, list.Val()); err != nil {
			return nil, fmt.Errorf("read blob %s: %w", digest, err)
		}
	default:
		return nil, fmt.Errorf("read blob %s: %w", digest, ErrNotFound)
	}
	if got := sum(data); got != digest {
		return nil, fmt.Errorf("read blob %s: content hashes to %s: %w", digest, got, ErrCorrupt)
	}
	return data, nil
}

// readChunks fetches and joins the chunks a chunk list names, in one
// pipelined round trip. Separate GETs rather than one MGET because chunks
// live in different hash slots on Redis Cluster.
func (s *Store) readChunks(ctx context.Context, list string) ([]byte, error) {
	digests := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(digests))
	for i, d := range digests {
		if !isDigest(d) {
			return nil, fmt.Errorf("chunk list entry %d is %q, not a digest: %w", i, d, ErrCorrupt)
		}
		cmds[i] = pipe.Get(ctx, s.keys.Blob(d))
	}
	_, _ = pipe.Exec(ctx)
	total := 0
	for i, cmd := range cmds {
		switch err := cmd.Err(); {
		case errors.Is(err, redis.Nil):
			return nil, fmt.Errorf("chunk %d (%s) is missing: %w", i, digests[i], ErrCorrupt)
		case err != nil:
			return nil, fmt.Errorf("chunk %d (%s): %w", i, digests[i], err)
		}
		total += len(cmd.Val())
	}
	data := make([]byte, 0, total)
	for _, cmd := range cmds {
		data = append(data, cmd.Val()...)
	}
	return data, nil
}

// blobWrites collects the SET NX commands that store blobs. Whole values
// (small blobs and chunks) are written in a first round trip and chunk
// lists in a second, so that a reader never finds a list naming a chunk
// that is not there yet.
type blobWrites struct {
	seen  map[string]bool
	whole []keyValue
	lists []keyValue
}

type keyValue struct {
	key   string
	value []byte
}

// addBlob plans the writes that store data and returns its digest. It
// neither copies data nor touches Redis.
func (s *Store) addBlob(w *blobWrites, data []byte) string {
	digest := sum(data)
	if w.seen[digest] {
		return digest
	}
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	w.seen[digest] = true
	size := s.limits.ChunkSize
	if len(data) <= size {
		w.whole = append(w.whole, keyValue{s.keys.Blob(digest), data})
		return digest
	}
	list := make([]byte, 0, (len(data)/size+1)*(sha256.Size*2+1))
	for off := 0; off < len(data); off += size {
		part := s.addBlob(w, data[off:min(off+size, len(data))])
		list = append(list, part...)
		list = append(list, '\n')
	}
	w.lists = append(w.lists, keyValue{s.keys.Chunks(digest), list})
	return digest
}

// writeBlobs runs the planned writes: one pipeline when no blob is
// chunked, two otherwise. SET NX keeps blobs write-once, so concurrent
// writers of the same content do not disturb each other's readers.
func (s *Store) writeBlobs(ctx context.Context, w *blobWrites) error {
	for _, batch := range [][]keyValue{w.whole, w.lists} {
		if len(batch) == 0 {
			continue
		}
		pipe := s.rdb.Pipeline()
		for _, kv := range batch {
			pipe.SetNX(ctx, kv.key, kv.value, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// isDigest reports whether d is a lower-case hex SHA-256, the only form Put
// produces; checking it keeps arbitrary strings out of key names.
func isDigest(d string) bool {
	if len(d) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
