package proxy

import (
	"strings"
	"testing"

	"capibridge/internal/redistest"
	"capibridge/proxy/auth"
)

// TestCacheWhoOverScopeSets: which tokens share cached pages. Two tokens
// share a key exactly when the Cloud Controller shows them the same thing:
// the same user, and the same scopes that widen what a read shows. The
// write scope, openid and the like change nothing a read shows
// (cc:app/controllers/v3/application_controller.rb checks
// cloud_controller.write for other verbs only; visibility and secrets come
// from roles and the global scopes, cc:lib/cloud_controller/permissions.rb).
func TestCacheWhoOverScopeSets(t *testing.T) {
	t.Parallel()
	const (
		admin = auth.ScopeAdmin
		aro   = auth.ScopeAdminReadOnly
		ga    = auth.ScopeGlobalAuditor
		read  = auth.ScopeRead
		write = auth.ScopeWrite
	)
	type tok struct {
		user   string
		scopes []string
	}
	u := func(user string, scopes ...string) tok { return tok{user, scopes} }
	for _, tc := range []struct {
		name string
		a, b tok
		same bool
	}{
		// The defect: a global auditor's page went to the same user's plain token.
		{"read vs read+global_auditor, same user", u("u1", read), u("u1", read, ga), false},
		{"read+write vs read+write+global_auditor, same user", u("u1", read, write), u("u1", read, write, ga), false},
		{"read vs admin_read_only, same user", u("u1", read), u("u1", read, aro), false},
		{"read vs admin, same user", u("u1", read), u("u1", read, write, admin), false},
		// A global auditor reads no secrets; admin_read_only reads them all.
		{"global_auditor vs admin_read_only, same user", u("u1", ga), u("u1", aro), false},
		{"global_auditor vs admin, same user", u("u1", read, ga), u("u1", admin), false},
		// Scopes that widen nothing a read shows.
		{"read vs read+write", u("u1", read), u("u1", read, write), true},
		{"read vs read+openid+uaa.user", u("u1", read), u("u1", read, "openid", "uaa.user", auth.ScopeUser), true},
		{"global_auditor vs read+global_auditor", u("u1", ga), u("u1", read, ga), true},
		{"global_auditor vs global_auditor+write", u("u1", read, ga), u("u1", read, write, ga), true},
		{"scope order", u("u1", ga, read, write), u("u1", write, read, ga), true},
		// Users: each sees what their roles show.
		{"two users, read", u("u1", read), u("u2", read), false},
		{"two users, read+write", u("u1", read, write), u("u2", read, write), false},
		// A global auditor who is a space developer reads that space's secrets.
		{"two users, global_auditor", u("u1", read, ga), u("u2", read, ga), false},
		// Admins and read-only admins read everything, secrets included, whoever they are.
		{"two users, admin", u("u1", admin), u("u2", admin, read, write), true},
		{"admin vs admin_read_only", u("u1", admin), u("u2", aro), true},
		{"admin vs admin+global_auditor", u("u1", admin), u("u1", admin, ga), true},
		{"admin_read_only vs admin_read_only+global_auditor", u("u1", aro, read), u("u2", aro, ga), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ka := auth.Class(&auth.Identity{UserID: tc.a.user, Scopes: tc.a.scopes})
			kb := auth.Class(&auth.Identity{UserID: tc.b.user, Scopes: tc.b.scopes})
			if (ka == kb) != tc.same {
				t.Errorf("who %q and %q: same = %v, want %v", ka, kb, ka == kb, tc.same)
			}
		})
	}
	if auth.Class(nil) == auth.Class(&auth.Identity{UserID: "anonymous"}) {
		t.Error("an anonymous caller shares a user's key")
	}
}

// TestCacheNarrowTokenMissesWideTokensPage: the same user first lists apps
// with a global auditor's token, which sees every space, then with an
// ordinary token, which sees none of them: the second must not be served
// the first's page, through a cache over a real Redis. A token that widens
// nothing (read+write after read) does share the page.
func TestCacheNarrowTokenMissesWideTokensPage(t *testing.T) {
	s := startStack(t, nil)
	s.createApps(t, "developer", "wide-one", "wide-two", "wide-three")
	rs := redistest.Start(t)
	g := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	token := func(scopes ...string) string {
		tok, err := s.cf.Token(t.Context(), "outsider", scopes...)
		if err != nil {
			t.Fatal(err)
		}
		return "bearer " + tok
	}
	wide := s.do("GET", g.url+"/v2/apps", token("cloud_controller.read", "cloud_controller.global_auditor"), nil)
	if n := listTotal(t, wide); n != 3 {
		t.Fatalf("the global auditor sees %d apps, want 3", n)
	}
	narrow := s.do("GET", g.url+"/v2/apps", token("cloud_controller.read"), nil)
	if n := listTotal(t, narrow); n != 0 {
		t.Errorf("the same user's ordinary token sees %d apps, want 0 (Cache-Status %q)", n, cacheStatus(narrow))
	}
	if !strings.Contains(cacheStatus(narrow), "fwd=miss") {
		t.Errorf("ordinary token after the global auditor's: Cache-Status %q, want a miss", cacheStatus(narrow))
	}
	same := s.do("GET", g.url+"/v2/apps", token("cloud_controller.read", "cloud_controller.write"), nil)
	if n := listTotal(t, same); n != 0 || !strings.Contains(cacheStatus(same), "hit") {
		t.Errorf("read+write after read: %d apps, Cache-Status %q, want 0 and a hit", n, cacheStatus(same))
	}
	// The wide page is still there for the wide token.
	again := s.do("GET", g.url+"/v2/apps", token("cloud_controller.global_auditor"), nil)
	if n := listTotal(t, again); n != 3 || !strings.Contains(cacheStatus(again), "hit") {
		t.Errorf("global_auditor alone after read+global_auditor: %d apps, Cache-Status %q, want 3 and a hit", n, cacheStatus(again))
	}
}
