package v2api

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"capibridge/metrics"
	"capibridge/proxy/ccv3"
	"capibridge/translate"

	"github.com/valyala/fasthttp"
)

// FragmentStore keeps per-resource fragments (cache.Fragments): a part of
// a v2 answer filed under its owner and a field, valid for one stamp.
type FragmentStore interface {
	Get(ctx context.Context, owner, field, stamp string) ([]byte, bool)
	Set(ctx context.Context, owner, field, stamp string, val []byte)
	Drop(ctx context.Context, owners ...string) error
}

// FragmentSettle is how long after its owner last changed a fragment is
// read, used once and not kept. v3 shows updated_at in whole seconds
// (cc:lib/cloud_controller.rb, time_precision = 0), so a change in the
// same second as a read leaves the stamp as it was; and the database
// stamps a change with its transaction's start, which may commit a moment
// later. A part read once its owner's second has passed by this margin,
// by the Cloud Controller's clock (its Date header; the gateway's when it
// sends none), cannot be followed by a change under the same stamp.
const FragmentSettle = 3 * time.Second

// The per-app parts v3 has no batch read for (MAPPING §1.2, §3.3), each
// filed under the app's guid, with the owner whose updated_at moves when
// the part changes (checked in cc_ng: every model has Sequel's timestamps
// plugin, cc:lib/cloud_controller/db.rb, which moves updated_at on a
// model save, never on a dataset update):
const (
	// fragEnv: the app's environment variables. AppModel's column, saved
	// by AppPatchEnvironmentVariables (app.save), manifests and
	// V2::AppUpdate (app.save): the app's updated_at. Per reader class:
	// only developers and global secret readers see them (others 403).
	fragEnv = "env"
	// fragSSH: the app's enable_ssh, saved by AppFeatureUpdate
	// (app.update) and V2::AppUpdate: the app's updated_at. The same for
	// every reader of the app. (An app whose column is NULL, older than
	// AppModel's before_create default, shows the config's
	// default_app_ssh_access, which changes with no stamp: a redeployed
	// Cloud Controller with another default needs the fragments dropped,
	// as a restart of the gateways or Redis' TTL does.)
	fragSSH = "ssh"
	// fragCommand: the web process's command as its own GET shows it: the
	// process's command (ProcessUpdate: process.save; the deployment
	// finalizer: process.update), else the current droplet's process type
	// (AppAssignDroplet: app.update(droplet_guid)). Stamped with the
	// process's guid and updated_at and the current droplet's guid (the
	// app's updated_at when v3 does not name it). Per reader class: v3
	// redacts it for readers without secrets.
	fragCommand = "cmd"
	// fragDroplet: the current droplet. A staged droplet changes only by
	// DropletUpdate (droplet.save); stamped with its guid and, when it is
	// the app's latest droplet, its updated_at from the batch list, else
	// the app's updated_at. Per reader class, to be safe: v3 redacts a
	// droplet's process types for readers without secrets on other paths.
	fragDroplet = "drop"
	// fragSpaceSSH: a space's allow_ssh, saved by the space features
	// update (space.update) and v2's space update (update_from_hash): the
	// space's updated_at. The same for every reader of the space.
	fragSpaceSSH = "space-ssh"
	// fragBinding: a credential binding's details (credentials, syslog
	// drain, volume mounts), ServiceBinding's columns, set by the bind and
	// its polls (set, save_changes) and by a user-provided instance's
	// update, which saves every binding
	// (cc:app/actions/service_instance_update_user_provided.rb): the
	// binding's updated_at, with its last operation (details are 404 until
	// the create succeeded). Per reader class: only admins, read-only
	// admins and space developers see them.
	fragBinding = "binding"
)

// stampOf renders the times and names a fragment depends on.
func stampOf(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '|')
		}
		b = append(b, p...)
	}
	return string(b)
}

func unixStamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// fragment returns the part kind of owner, for the call's reader class
// when perReader, under stamp: the stored one, else read's, which is kept only when changed,
// the latest time the stamp holds, has settled by the upstream clock seen
// before the read. read returns the part encoded, or nil for a part that
// is not to be kept (an absent resource).
func (g *API) fragment(c ccv3.Call, kind string, perReader bool, owner, stamp string, changed time.Time, read func() ([]byte, error)) ([]byte, error) {
	field := kind
	if perReader {
		field += ":" + c.Class
	}
	fs := g.hooks.Fragments
	if fs == nil || perReader && c.Class == "" {
		return read()
	}
	ctx := context.Background()
	if v, ok := fs.Get(ctx, owner, field, stamp); ok {
		g.countFragment(kind, metrics.FragmentHit)
		return v, nil
	}
	// Whatever the upstream answered before this read was sent is a lower
	// bound of when the read happens.
	settled := !c.Trace.Clock().Before(changed.Add(FragmentSettle)) && !changed.IsZero()
	v, err := read()
	if err != nil || v == nil {
		return v, err
	}
	if !settled {
		g.countFragment(kind, metrics.FragmentYoung)
		return v, nil
	}
	g.countFragment(kind, metrics.FragmentMiss)
	fs.Set(ctx, owner, field, stamp, v)
	return v, nil
}

func (g *API) countFragment(kind, result string) {
	if g.hooks.Metrics != nil {
		g.hooks.Metrics.Fragments.WithLabelValues(kind, result).Inc()
	}
}

// jsonFragment is fragment for a part kept as JSON. read says whether its
// part may be kept at all.
func jsonFragment[T any](g *API, c ccv3.Call, kind string, perReader bool, owner, stamp string, changed time.Time, read func() (T, bool, error)) (T, error) {
	var out T
	fresh := false
	raw, err := g.fragment(c, kind, perReader, owner, stamp, changed, func() ([]byte, error) {
		v, keep, err := read()
		out, fresh = v, true
		if err != nil || !keep {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil || fresh {
		return out, err
	}
	err = ccv3.Decode(raw, &out)
	return out, err
}

// appEnvPart is an app's environment variables as the reader sees them.
type appEnvPart struct {
	Var      map[string]json.RawMessage `json:"v"`
	Redacted bool                       `json:"r,omitempty"`
}

// appEnv reads the app's environment variables through its fragment.
func (g *API) appEnv(c ccv3.Call, a translate.V3App) (appEnvPart, error) {
	return jsonFragment(g, c, fragEnv, true, a.GUID, unixStamp(a.UpdatedAt), a.UpdatedAt, func() (appEnvPart, bool, error) {
		vars, red, err := g.v3.EnvVars(c, a.GUID)
		return appEnvPart{Var: vars, Redacted: red}, err == nil, err
	})
}

// appSSH reads the app's ssh setting through its fragment.
func (g *API) appSSH(c ccv3.Call, a translate.V3App) (bool, error) {
	return jsonFragment(g, c, fragSSH, false, a.GUID, unixStamp(a.UpdatedAt), a.UpdatedAt, func() (bool, bool, error) {
		on, err := g.v3.SSHEnabled(c, a.GUID)
		return on, err == nil, err
	})
}

// errGone is a resource deleted between a list and its own GET.
var errGone = errors.New("v2api: deleted since listed")

// webCommand reads the command of the app's listed web process w through
// its fragment: by the process's guid, so that during a deployment the
// newest listed web process is the one read.
func (g *API) webCommand(c ccv3.Call, a translate.V3App, w translate.V3Process) (*string, error) {
	changed, dropletStamp := w.UpdatedAt, "d:"+a.Relationships.CurrentDroplet.GUID()
	if !a.Relationships.DropletNamed {
		// A Cloud Controller that does not name the current droplet: the
		// app's updated_at moves when it is assigned.
		dropletStamp = unixStamp(a.UpdatedAt)
		if a.UpdatedAt.After(changed) {
			changed = a.UpdatedAt
		}
	}
	stamp := stampOf(w.GUID, unixStamp(w.UpdatedAt), dropletStamp)
	return jsonFragment(g, c, fragCommand, true, a.GUID, stamp, changed, func() (*string, bool, error) {
		p, err := g.v3.Process(c, w.GUID)
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status == fasthttp.StatusNotFound {
			return nil, false, errGone
		}
		return p.Command, err == nil, err
	})
}

// appCurrentDroplet reads the app's current droplet through its fragment;
// latest is the app's newest droplet as the batch list shows it.
func (g *API) appCurrentDroplet(c ccv3.Call, a translate.V3App, latest *translate.V3Droplet) (*translate.V3Droplet, error) {
	guid := a.Relationships.CurrentDroplet.GUID()
	changed := a.UpdatedAt
	if latest != nil && latest.GUID == guid {
		changed = latest.UpdatedAt
	}
	return jsonFragment(g, c, fragDroplet, true, a.GUID, stampOf(guid, unixStamp(changed)), changed, func() (*translate.V3Droplet, bool, error) {
		d, err := g.v3.CurrentDroplet(c, a.GUID)
		// No current droplet (404, nil) is not kept: the app names one, so
		// it was deleted or unassigned a moment ago.
		return d, err == nil && d != nil && d.GUID == guid, err
	})
}

// stacks reads v3's stacks, which every reader sees alike (stacks have no
// visibility in v3): through the page cache when there is one, kept as
// long as a page and invalidated with the pages that show stacks, so that
// a page costs no stacks read of its own.
func (g *API) stacks(c ccv3.Call) ([]ccv3.Stack, error) {
	if g.hooks.Shared == nil {
		return g.v3.Stacks(c)
	}
	raw, err := g.hooks.Shared("/v3/stacks", []string{"stacks"}, func() ([]byte, error) {
		s, err := g.v3.Stacks(c)
		if err != nil {
			return nil, err
		}
		return json.Marshal(s)
	})
	if err != nil {
		return nil, err
	}
	var out []ccv3.Stack
	err = ccv3.Decode(raw, &out)
	return out, err
}

// spaceSSH reads the space's allow_ssh through its fragment.
func (g *API) spaceSSH(c ccv3.Call, sp translate.V3Space) (bool, error) {
	return jsonFragment(g, c, fragSpaceSSH, false, sp.GUID, unixStamp(sp.UpdatedAt), sp.UpdatedAt, func() (bool, bool, error) {
		on, err := g.v3.SpaceSSHEnabled(c, sp.GUID)
		return on, err == nil, err
	})
}

// bindingDetails reads the binding's details through their fragment; nil
// when the reader may not see them.
func (g *API) bindingDetails(c ccv3.Call, b translate.V3ServiceCredentialBinding) (*translate.V3BindingDetails, error) {
	changed, op := b.UpdatedAt, "none"
	if lo := b.LastOperation; lo != nil {
		op = lo.Type + ":" + lo.State + ":" + unixStamp(lo.UpdatedAt)
		if lo.UpdatedAt.After(changed) {
			changed = lo.UpdatedAt
		}
	}
	return jsonFragment(g, c, fragBinding, true, b.GUID, stampOf(unixStamp(b.UpdatedAt), op), changed, func() (*translate.V3BindingDetails, bool, error) {
		d, err := g.v3.BindingDetails(c, b.GUID)
		return d, err == nil, err
	})
}
