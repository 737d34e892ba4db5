package backend

import (
	"testing"
	"time"

	"capibridge/backend/store"
)

// TestManagedServicesSurviveRestart stops the embedded CF with broker
// operations in flight: one whose job has not run yet, one being polled.
// The next start on the same data dir carries on from the clock: what was
// due while it was down is done at once, what is not due yet finishes on
// time, and no job is ended by the runner of app deletes.
func TestManagedServicesSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := &fakeClock{now: servicesT0}
	cfg := fileConfig(dir)
	cfg.JobDelay = 2 * time.Second
	first := startCF(t, &cfg, WithClock(clk.Now), WithBrokerDuration(10*time.Second))
	r := first.must(202, "POST", "/v3/service_instances", "developer", managedBody("early", DemoSpaceGUID, DBSmallPlanGUID,
		map[string]any{"parameters": map[string]string{"tier": "gold"}}))
	early, earlyJob := first.created(r, "developer"), r.header["Location"]
	clk.Advance(2 * time.Second)
	if got := first.lastOp("/v3/service_instances/"+early, "developer"); got != "create in progress" {
		t.Fatalf("before the stop: %s", got)
	}
	r = first.must(202, "POST", "/v3/service_instances", "developer", managedBody("late", DemoSpaceGUID, DBSmallPlanGUID, nil))
	late, lateJob := first.created(r, "developer"), r.header["Location"]
	if j := first.job(lateJob, "developer"); j.State != store.JobProcessing {
		t.Fatalf("late job before the stop: %s", j.State)
	}
	tokens := first.tokens
	first.stop()

	// 9 s on: the early one (due at 10 s) is done, the late one (due at
	// 12 s) is still being made.
	clk.Advance(9 * time.Second)
	second := startCF(t, &cfg, WithClock(clk.Now), WithBrokerDuration(10*time.Second))
	second.withTokens(tokens)
	if got := second.lastOp("/v3/service_instances/"+early, "developer"); got != "create succeeded" {
		t.Errorf("early after the restart: %s", got)
	}
	if j := second.job(earlyJob, "developer"); j.State != store.JobComplete {
		t.Errorf("early job after the restart: %s", j.State)
	}
	if got := string(second.must(200, "GET", "/v3/service_instances/"+early+"/parameters", "developer", nil).body); got != `{"tier":"gold"}` {
		t.Errorf("parameters after the restart %s", got)
	}
	if got := second.lastOp("/v3/service_instances/"+late, "developer"); got != "create in progress" {
		t.Errorf("late after the restart: %s", got)
	}
	if j := second.job(lateJob, "developer"); j.State != store.JobPolling {
		t.Errorf("late job after the restart: %s", j.State)
	}
	clk.Advance(time.Second)
	if got := second.lastOp("/v3/service_instances/"+late, "developer"); got != "create succeeded" {
		t.Errorf("late once due: %s", got)
	}
	if j := second.job(lateJob, "developer"); j.State != store.JobComplete {
		t.Errorf("late job once due: %s", j.State)
	}
}
