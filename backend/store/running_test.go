package store

import (
	"context"
	"testing"
)

func TestPlaceInstances(t *testing.T) {
	ctx := context.Background()
	s := fixture(t)
	mustCreateApp(t, s, "app-1", "one", spaceA, nil)
	p, err := s.GetAppProcess(ctx, "app-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	summary := func(ins []Instance) []int64 {
		out := []int64{}
		for _, in := range ins {
			out = append(out, in.StartedAt)
		}
		return out
	}
	steps := []struct {
		name      string
		instances int64
		version   string
		at        int64
		want      []int64
	}{
		{"first placement", 2, "v1", 100, []int64{100, 100}},
		{"nothing changed", 2, "v1", 200, []int64{100, 100}},
		{"scale up", 3, "v1", 300, []int64{100, 100, 300}},
		{"scale down", 1, "v1", 400, []int64{100}},
		{"new version restarts", 2, "v2", 500, []int64{500, 500}},
		{"none", 0, "v2", 600, []int64{}},
	}
	for _, st := range steps {
		p.Instances, p.Version = st.instances, st.version
		ins, err := s.PlaceInstances(ctx, p, st.at)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := summary(ins)
		if len(got) != len(st.want) {
			t.Fatalf("%s: started at %v, want %v", st.name, got, st.want)
		}
		for i := range got {
			if got[i] != st.want[i] || ins[i].Index != int64(i) || ins[i].Version != st.version {
				t.Errorf("%s: instance %d %+v, want started at %d", st.name, i, ins[i], st.want[i])
			}
		}
	}
}

func TestRecordCrashOnce(t *testing.T) {
	ctx := context.Background()
	s := fixture(t)
	mustCreateApp(t, s, "app-1", "one", spaceA, nil)
	p, err := s.GetAppProcess(ctx, "app-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlaceInstances(ctx, p, 1000); err != nil {
		t.Fatal(err)
	}
	crash := func(guid string, startedAt int64) bool {
		ok, err := s.RecordCrash(ctx, p.GUID, 0, startedAt, Event{GUID: guid, Type: "audit.app.process.crash", TargetGUID: "app-1", SpaceGUID: spaceA})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !crash("e1", 1000) {
		t.Error("the first crash was not recorded")
	}
	if crash("e2", 1000) {
		t.Error("the same crash was recorded twice")
	}
	if crash("e3", 999) {
		t.Error("a crash of another start was recorded")
	}
	if err := s.RestartInstance(ctx, p.GUID, 0, 2000); err != nil {
		t.Fatal(err)
	}
	if !crash("e4", 2000) {
		t.Error("the crash after a restart was not recorded")
	}
	_, n, err := s.ListEvents(ctx, Viewer{All: true}, EventFilter{Types: []string{"audit.app.process.crash"}}, Page{Page: 1, PerPage: 10})
	if err != nil || n != 2 {
		t.Errorf("%d crash events (%v), want 2", n, err)
	}
	if err := s.DeleteApp(ctx, "app-1"); err != nil {
		t.Fatal(err)
	}
	if ins, err := s.Instances(ctx, p.GUID); err != nil || len(ins) != 0 {
		t.Errorf("instances of a deleted app: %v %v", ins, err)
	}
}
