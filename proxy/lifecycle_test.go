package proxy

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"

	cfclient "github.com/cloudfoundry-community/go-cfclient"

	"capibridge/backend"
	"capibridge/configs"
)

// TestGoCFClientAppLifecycle: go-cfclient's last v2 release pushes and
// runs an app through the gateway in front of the embedded CF, as the
// issue lists it: create (buildpack and docker), a duplicate name, update,
// upload bits, start (STAGED, then RUNNING), stats, instances, kill an
// instance, restage, stop, restart, events, download bits and droplet,
// delete, then not found.
func TestGoCFClientAppLifecycle(t *testing.T) {
	s := startStackWith(t, func(b *configs.Backend) {
		b.StagingDuration, b.StartupDuration = 400*time.Millisecond, 20*time.Millisecond
	}, nil)
	cf := s.goCFClient(t, "developer")
	space := backend.DemoSpaceGUID
	app, err := cf.CreateApp(cfclient.AppCreateRequest{Name: "life", SpaceGuid: space, Memory: 256, Instances: 1,
		Environment: map[string]any{"STAGE": "one"}})
	if err != nil || app.Guid == "" || app.Memory != 256 || app.State != "STOPPED" || app.PackageState != "PENDING" {
		t.Fatalf("CreateApp: %v %+v", err, app)
	}
	guid := app.Guid
	docker, err := cf.CreateApp(cfclient.AppCreateRequest{Name: "life-docker", SpaceGuid: space, DockerImage: "nginx:1"})
	if err != nil || docker.DockerImage != "nginx:1" {
		t.Errorf("CreateApp docker: %v %+v", err, docker)
	}
	if _, err := cf.CreateApp(cfclient.AppCreateRequest{Name: "LIFE", SpaceGuid: space}); err == nil {
		t.Error("a duplicate name was accepted")
	}

	up, err := cf.UpdateApp(guid, cfclient.AppUpdateResource{Name: "life-renamed", Memory: 512, Instances: 2, DiskQuota: 2048,
		Command: "./server --port $PORT", HealthCheckType: "http", HealthCheckHttpEndpoint: "/health",
		Environment: map[string]any{"STAGE": "two"}})
	if err != nil || up.Entity.Name != "life-renamed" || up.Entity.Memory != 512 || up.Entity.Instances != 2 || up.Entity.DiskQuota != 2048 ||
		up.Entity.HealthCheckType != "http" || up.Entity.Environment["STAGE"] != "two" || up.Entity.Command != "./server --port $PORT" {
		t.Fatalf("UpdateApp: %v %+v", err, up.Entity)
	}

	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for name, body := range map[string]string{"Procfile": "web: ./server\n", "server": "#!/bin/sh\nexec sleep 1000\n"} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	if err := cf.UploadAppBits(bytes.NewReader(z.Bytes()), guid); err != nil {
		t.Fatalf("UploadAppBits: %v", err)
	}

	if err := cf.StartApp(guid); err != nil {
		t.Fatalf("StartApp: %v", err)
	}
	waitRunning := func(what string, want int) {
		t.Helper()
		waitFor(t, what+": STAGED", func() bool {
			a, err := cf.GetAppByGuidNoInlineCall(guid)
			return err == nil && a.State == "STARTED" && a.PackageState == "STAGED"
		})
		waitFor(t, what+": instances RUNNING", func() bool {
			inst, err := cf.GetAppInstances(guid)
			running := 0
			for _, i := range inst {
				if i.State == "RUNNING" {
					running++
				}
			}
			return err == nil && running == want
		})
	}
	waitRunning("start", 2)

	stats, err := cf.GetAppStats(guid)
	if err != nil || len(stats) != 2 || stats["0"].Stats.Name != "life-renamed" || stats["0"].Stats.MemQuota != 512<<20 {
		t.Errorf("GetAppStats: %v %+v", err, stats)
	}
	if err := cf.KillAppInstance(guid, "1"); err != nil {
		t.Errorf("KillAppInstance: %v", err)
	}

	rs, err := cf.RestageApp(guid)
	if err != nil || rs.Entity.State != "STARTED" || rs.Entity.PackageState != "PENDING" {
		t.Errorf("RestageApp: %v %+v", err, rs.Entity)
	}
	waitRunning("restage", 2)

	if err := cf.StopApp(guid); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.GetAppStats(guid); err == nil {
		t.Error("stats of a stopped app")
	}
	if err := cf.RestartApp(guid); err != nil {
		t.Fatal(err)
	}
	waitRunning("restart", 2)

	for _, kind := range []string{cfclient.AppCreate, cfclient.AppUpdate} {
		evs, err := cf.ListAppEventsByQuery(kind, []cfclient.AppEventQuery{{Filter: cfclient.FilterActee, Operator: ":", Value: guid}})
		if err != nil || len(evs) == 0 {
			t.Errorf("ListAppEventsByQuery(%s): %v, %d events", kind, err, len(evs))
		}
	}

	bits, err := cf.GetAppBits(guid)
	if err != nil {
		t.Fatalf("GetAppBits: %v", err)
	}
	raw, _ := io.ReadAll(bits)
	bits.Close()
	if _, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw))); err != nil {
		t.Errorf("GetAppBits gave no zip: %v", err)
	}
	droplet, err := cf.GetDropletBits(guid)
	if err != nil {
		t.Fatalf("GetDropletBits: %v", err)
	}
	raw, _ = io.ReadAll(droplet)
	droplet.Close()
	if _, err := gzip.NewReader(bytes.NewReader(raw)); err != nil {
		t.Errorf("GetDropletBits gave no tgz (%d bytes): %v", len(raw), err)
	}

	if err := cf.DeleteApp(guid); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.GetAppByGuidNoInlineCall(guid); err == nil {
		t.Error("the deleted app is still there")
	}
}
