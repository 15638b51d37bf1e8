package llmagent

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache keeps model responses by the SHA-256 of their request (model,
// max_tokens, system prompt, messages and tools). A nil Cache in Config
// means no caching.
type Cache interface {
	// Get returns the response stored under key; ok is false when there is
	// none.
	Get(ctx context.Context, key string) (data []byte, ok bool, err error)
	// Put stores a response under key.
	Put(ctx context.Context, key string, data []byte) error
}

// NewRedisCache returns a Cache over Redis: responses are stored under
// prefix+key and expire after ttl, or never when ttl is zero.
func NewRedisCache(rdb redis.Cmdable, prefix string, ttl time.Duration) Cache {
	return &redisCache{rdb: rdb, prefix: prefix, ttl: ttl}
}

type redisCache struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
}

func (c *redisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	data, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (c *redisCache) Put(ctx context.Context, key string, data []byte) error {
	return c.rdb.Set(ctx, c.prefix+key, data, c.ttl).Err()
}
