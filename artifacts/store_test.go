package artifacts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/artifacts"
	"github.com/orchestrate-dev/orchestrate/internal/keys"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

// env is one test's store on a real redis-server, with the client and key
// space to look behind the store's back.
type env struct {
	store *artifacts.Store
	rdb   *redis.Client
	keys  keys.Space
}

func newEnv(t testing.TB, limits artifacts.Limits) *env {
	t.Helper()
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	return &env{store: artifacts.NewStore(rdb, r.Prefix, limits), rdb: rdb, keys: keys.New(r.Prefix)}
}

// keyCount counts the keys under the test's prefix.
func (e *env) keyCount(t *testing.T) int {
	t.Helper()
	ks, err := e.rdb.Keys(context.Background(), e.keys.Prefix+"*").Result()
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	return len(ks)
}

func hexSum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// pattern returns n bytes that differ from chunk to chunk, so that a
// misordered or duplicated chunk changes the content.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/4099)
	}
	return b
}

func TestBlobs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, artifacts.Limits{})

	t.Run("a small blob reads back as written under its sha256", func(t *testing.T) {
		data := []byte("hello, artifacts\n")
		digest, err := e.store.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if digest != hexSum(data) {
			t.Fatalf("digest %s, want %s", digest, hexSum(data))
		}
		got, err := e.store.Blob(ctx, digest)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Blob = %q, %v; want %q", got, err, data)
		}
		if n, _ := e.rdb.Exists(ctx, e.keys.Chunks(digest)).Result(); n != 0 {
			t.Fatalf("a small blob has a chunk list")
		}
	})

	t.Run("an empty blob reads back empty", func(t *testing.T) {
		digest, err := e.store.Put(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.store.Blob(ctx, digest)
		if err != nil || len(got) != 0 {
			t.Fatalf("Blob = %q, %v; want empty", got, err)
		}
	})

	t.Run("a 3.5 MiB blob is stored in four chunks and reads back whole", func(t *testing.T) {
		data := pattern(3<<20 + 1<<19)
		digest, err := e.store.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := e.rdb.Exists(ctx, e.keys.Blob(digest)).Result(); n != 0 {
			t.Errorf("a chunked blob is also stored whole")
		}
		list, err := e.rdb.Get(ctx, e.keys.Chunks(digest)).Result()
		if err != nil {
			t.Fatalf("chunk list: %v", err)
		}
		chunks := strings.Fields(list)
		if len(chunks) != 4 {
			t.Fatalf("%d chunks, want 4: %q", len(chunks), list)
		}
		for i, c := range chunks {
			part := data[i<<20 : min((i+1)<<20, len(data))]
			if c != hexSum(part) {
				t.Errorf("chunk %d is %s, want the digest of bytes %d.. (%s)", i, c, i<<20, hexSum(part))
			}
			if n, _ := e.rdb.Exists(ctx, e.keys.Blob(c)).Result(); n != 1 {
				t.Errorf("chunk %d (%s) is not stored as a blob", i, c)
			}
		}
		got, err := e.store.Blob(ctx, digest)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Blob returned %d bytes, %v; want the %d bytes written", len(got), err, len(data))
		}
	})

	t.Run("putting the same data twice is idempotent", func(t *testing.T) {
		data := []byte("twice")
		first, err := e.store.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		before := e.keyCount(t)
		second, err := e.store.Put(ctx, data)
		if err != nil || second != first {
			t.Fatalf("second Put = %s, %v; want %s", second, err, first)
		}
		if after := e.keyCount(t); after != before {
			t.Fatalf("second Put changed the key count from %d to %d", before, after)
		}
	})

	t.Run("a missing blob is ErrNotFound", func(t *testing.T) {
		_, err := e.store.Blob(ctx, hexSum([]byte("never stored")))
		if !errors.Is(err, artifacts.ErrNotFound) {
			t.Fatalf("Blob of a missing digest = %v, want ErrNotFound", err)
		}
	})

	t.Run("a malformed digest is ErrNotFound", func(t *testing.T) {
		_, err := e.store.Blob(ctx, "../../etc")
		if !errors.Is(err, artifacts.ErrNotFound) {
			t.Fatalf("Blob of a malformed digest = %v, want ErrNotFound", err)
		}
	})

	t.Run("a blob altered in Redis is ErrCorrupt", func(t *testing.T) {
		digest, err := e.store.Put(ctx, []byte("original"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.Set(ctx, e.keys.Blob(digest), "tampered", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Blob(ctx, digest); !errors.Is(err, artifacts.ErrCorrupt) {
			t.Fatalf("Blob of a tampered blob = %v, want ErrCorrupt", err)
		}
	})

	t.Run("a chunked blob that lost a chunk is ErrCorrupt", func(t *testing.T) {
		data := pattern(2<<20 + 5)
		digest, err := e.store.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.Del(ctx, e.keys.Blob(hexSum(data[1<<20:2<<20]))).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Blob(ctx, digest); !errors.Is(err, artifacts.ErrCorrupt) {
			t.Fatalf("Blob with a lost chunk = %v, want ErrCorrupt", err)
		}
	})
}

func TestPutRefusesDataOverTheSizeLimit(t *testing.T) {
	e := newEnv(t, artifacts.Limits{MaxFileSize: 10})
	_, err := e.store.Put(context.Background(), make([]byte, 11))
	if !errors.Is(err, artifacts.ErrTooLarge) {
		t.Fatalf("Put of 11 bytes with a limit of 10 = %v, want ErrTooLarge", err)
	}
	if n := e.keyCount(t); n != 0 {
		t.Fatalf("%d keys written for a refused blob", n)
	}
}
