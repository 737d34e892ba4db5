package translate

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAppStatsAndInstances(t *testing.T) {
	t.Parallel()
	var stats []V3InstanceStats
	raw := `[{"type":"web","index":1,"state":"DOWN","uptime":0,"isolation_segment":null,"details":"insufficient resources: disk"},
	 {"type":"web","index":0,"instance_guid":"g0","state":"RUNNING","routable":true,
	  "usage":{"time":"2016-03-23T23:17:30.476314154Z","cpu":0.0004,"cpu_entitlement":0.01,"mem":19177472,"disk":69705728,"log_rate":0},
	  "host":"10.244.16.10","instance_ports":[{"external":64546,"internal":8080},{"external":1,"internal":9000}],
	  "uptime":9042,"mem_quota":268435456,"disk_quota":1073741824,"fds_quota":16384,"isolation_segment":"iso","log_rate_limit":null,"details":null}]`
	if err := json.Unmarshal([]byte(raw), &stats); err != nil {
		t.Fatal(err)
	}
	got, err := AppStats(stats, StatsInput{Name: "app", URIs: []string{"app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"0":{"state":"RUNNING","isolation_segment":"iso","routable":true,"stats":{"name":"app","uris":["app.example.com"],` +
		`"host":"10.244.16.10","instance_guid":"g0","port":64546,"uptime":9042,"fds_quota":16384,"mem_quota":268435456,` +
		`"disk_quota":1073741824,"log_rate_limit":null,"usage":{"time":"2016-03-23T23:17:30.476314154Z","cpu":0.0004,` +
		`"cpu_entitlement":0.01,"mem":19177472,"disk":69705728,"log_rate":0}}},` +
		`"1":{"state":"DOWN","details":"insufficient resources: disk","uptime":0}}`
	if string(got) != want {
		t.Errorf("stats\n got %s\nwant %s", got, want)
	}
	now := time.Unix(1_700_000_000, 0)
	inst, err := AppInstances(stats, now)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"0":{"state":"RUNNING","routable":true,"uptime":9042,"since":1699990958},"1":{"state":"DOWN","uptime":0,"details":"insufficient resources: disk"}}`
	if string(inst) != want {
		t.Errorf("instances\n got %s\nwant %s", inst, want)
	}
}
