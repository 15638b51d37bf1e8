package coalesce_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/orchestrate-dev/orchestrate/internal/coalesce"
	"github.com/orchestrate-dev/orchestrate/internal/testenv"
)

func TestConcurrentCallersEachGetTheirOwnResults(t *testing.T) {
	ctx := context.Background()
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	p := coalesce.New(rdb, 2, 8)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("%sk%d", r.Prefix, i)
			var set *redis.StatusCmd
			var get *redis.StringCmd
			var bad *redis.Cmd
			p.Do(ctx, func(pipe redis.Pipeliner) {
				set = pipe.Set(ctx, key, i, 0)
				get = pipe.Get(ctx, key)
				if i%10 == 0 {
					bad = pipe.Do(ctx, "nosuchcommand")
				}
			})
			if set.Err() != nil || get.Val() != fmt.Sprint(i) {
				t.Errorf("caller %d: set %v, get %q", i, set.Err(), get.Val())
			}
			if bad != nil && (bad.Err() == nil || !strings.Contains(bad.Err().Error(), "unknown command")) {
				t.Errorf("caller %d: the failing command reported %v", i, bad.Err())
			}
		}()
	}
	wg.Wait()
	n, err := rdb.DBSize(ctx).Result()
	if err != nil || n != 200 {
		t.Fatalf("%d keys, %v; want 200", n, err)
	}
}

func TestAFailedRoundTripFailsEveryCommandInIt(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	var get *redis.StringCmd
	coalesce.New(rdb, 1, 1).Do(ctx, func(pipe redis.Pipeliner) { get = pipe.Get(ctx, "k") })
	if get.Err() == nil || get.Err() == redis.Nil {
		t.Fatalf("get on an unreachable server: %v", get.Err())
	}
}

func BenchmarkCoalescedVersusDirect(b *testing.B) {
	ctx := context.Background()
	r := testenv.StartRedis(b)
	rdb := r.Client(b)
	rdb.Options().PoolSize = 64
	p := coalesce.New(rdb, 4, 256)
	work := func(pipe redis.Pipeliner) {
		pipe.HSet(ctx, r.Prefix+"h", "f", 1)
		pipe.HIncrBy(ctx, r.Prefix+"h", "n", 1)
	}
	b.Run("direct", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				pipe := rdb.Pipeline()
				work(pipe)
				_, _ = pipe.Exec(ctx)
			}
		})
	})
	b.Run("coalesced", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.Do(ctx, work)
			}
		})
	})
}
