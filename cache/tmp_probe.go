package cache

import (
	_ "github.com/maypok86/otter/v2"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/sync/singleflight"
)
