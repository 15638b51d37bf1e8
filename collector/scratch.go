package collector

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The environment through which generated tests reach a real Redis: the
// orchestrator's own, under a key prefix private to the job.
const (
	EnvRedisURL    = "FEATURE_STORE_REDIS_URL"
	EnvRedisPrefix = "FEATURE_STORE_KEY_PREFIX"
)

// ScratchRedis lends generated tests the orchestrator's Redis. Every key
// they write must be under the prefix the collector gives them; the
// collector deletes what is left there after the run, passed or not.
type ScratchRedis struct {
	Client redis.UniversalClient
	// URL is how the tests connect to the same server.
	URL string
	// Prefix is the orchestrator's key prefix (such as "orch:"); a job's
	// scratch keys are under <Prefix>scratch:<job>:.
	Prefix string
}

// prefix is the scratch key prefix of one job.
func (s *ScratchRedis) prefix(job string) string { return s.Prefix + "scratch:" + job + ":" }

// env is what the job's tests are given.
func (s *ScratchRedis) env(job string) map[string]string {
	return map[string]string{EnvRedisURL: s.URL, EnvRedisPrefix: s.prefix(job)}
}

// clean deletes every key under the job's scratch prefix, in batches, so
// that a test that forgot its cleanup leaves nothing behind.
func (s *ScratchRedis) clean(ctx context.Context, job string) (int, error) {
	pattern := s.prefix(job) + "*"
	deleted := 0
	var cursor uint64
	for {
		keys, next, err := s.Client.Scan(ctx, cursor, pattern, 500).Result()
		if err != nil {
			return deleted, fmt.Errorf("clean scratch keys %s: %w", pattern, err)
		}
		if len(keys) > 0 {
			n, err := s.Client.Unlink(ctx, keys...).Result()
			if err != nil {
				return deleted, fmt.Errorf("clean scratch keys %s: %w", pattern, err)
			}
			deleted += int(n)
		}
		if cursor = next; cursor == 0 {
			return deleted, nil
		}
	}
}
