package cache

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"capibridge/internal/redistest"
	"capibridge/metrics"
)

// The cache through redis.UniversalClient on the two other topologies
// it supports: a Sentinel-watched master and a three-node Cluster. Each
// runs the cross-instance check: a page of instance B is filled again at
// once after instance A invalidated its topic, and then B hits.

func checkAcrossInstances(t *testing.T, newClient func() redis.UniversalClient) {
	t.Helper()
	a := newRedisCache(t, newClient(), nil)
	b := newRedisCache(t, newClient(), nil)
	up := &versioned{}
	ctx := context.Background()
	policy := Policy{TTL: time.Hour, Topics: []string{"apps"}}
	for i := range 20 {
		e, _, err := b.Get(ctx, appsKey, policy, false, up.fill)
		if err != nil {
			t.Fatal(err)
		}
		if got := bodyVersion(t, e); got != int64(i) {
			t.Fatalf("round %d: B served version %d", i, got)
		}
		if _, o, _ := b.Get(ctx, appsKey, policy, false, up.fill); o.Result != metrics.CacheHit {
			t.Fatalf("round %d: the second read was %+v", i, o)
		}
		up.v.Add(1)
		if err := a.Invalidate(ctx, "apps"); err != nil {
			t.Fatalf("round %d: invalidate: %v", i, err)
		}
	}
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, "capibridge", master.Addr())
	checkAcrossInstances(t, func() redis.UniversalClient {
		c := NewRedisClient(redis.UniversalOptions{Addrs: []string{sentinel.Addr()}, MasterName: "capibridge"}, 200*time.Millisecond)
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed (make test installs it with redis-server)")
	}
	var addrs []string
	for range 3 {
		n := redistest.StartArgs(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		addrs = append(addrs, n.Addr())
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strings.Split(addrs[0], ":")[1], "cluster", "info").Output()
		if strings.Contains(string(info), "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never became ok:\n%s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkAcrossInstances(t, func() redis.UniversalClient {
		c := NewRedisClient(redis.UniversalOptions{Addrs: addrs}, 200*time.Millisecond)
		if _, ok := c.(*redis.ClusterClient); !ok {
			t.Fatalf("several addresses should make a cluster client, got %T", c)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
}
