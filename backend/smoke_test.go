package backend

import "testing"

func TestAppLifecycleSmoke(t *testing.T) {
	c := startCF(t, nil)
	guid := c.createApp("developer", "smoke", map[string]any{"environment_variables": map[string]string{"A": "1"}})
	var got struct {
		Name  string
		State string
	}
	c.must(200, "GET", "/v3/apps/"+guid, "developer", nil).json(t, &got)
	if got.Name != "smoke" || got.State != "STOPPED" {
		t.Fatalf("got %+v", got)
	}
	r := c.must(202, "DELETE", "/v3/apps/"+guid, "developer", nil)
	if st := c.waitJob(r.header["Location"], "developer"); st != "COMPLETE" {
		t.Fatalf("job state %s", st)
	}
	c.must(404, "GET", "/v3/apps/"+guid, "developer", nil)
}
