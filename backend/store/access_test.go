package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// TestGetAppPlaceAgrees checks GetAppPlace against the reads it replaces:
// GetApp's visibility, GetSpace, GetOrg's suspension and RolesIn.
func TestGetAppPlaceAgrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := fixture(t)
	if err := s.CreateOrg(ctx, Org{GUID: "org-3", Name: "org-three", QuotaGUID: "q", Suspended: true}); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	if err := s.CreateSpace(ctx, Space{GUID: "space-d", Name: "d", OrgGUID: "org-3", AllowSSH: true}); err != nil {
		t.Fatalf("CreateSpace: %v", err)
	}
	apps := map[string]string{"app-a": spaceA, "app-b": spaceB, "app-c": spaceC, "app-d": "space-d"}
	for guid, space := range apps {
		mustCreateApp(t, s, guid, guid, space, Metadata{"k": "v"})
	}
	grants := map[string][]Role{
		"dev":       {{Type: RoleOrgUser, OrgGUID: org1}, {Type: RoleSpaceDeveloper, OrgGUID: org1, SpaceGUID: spaceA}},
		"auditor":   {{Type: RoleSpaceAuditor, OrgGUID: org1, SpaceGUID: spaceB}},
		"manager":   {{Type: RoleOrgManager, OrgGUID: org1}, {Type: RoleSpaceManager, OrgGUID: org2, SpaceGUID: spaceC}},
		"orguser":   {{Type: RoleOrgUser, OrgGUID: org1}},
		"orgaudit":  {{Type: RoleOrgAuditor, OrgGUID: org2}},
		"suspended": {{Type: RoleOrgUser, OrgGUID: "org-3"}, {Type: RoleSpaceDeveloper, OrgGUID: "org-3", SpaceGUID: "space-d"}},
		"nobody":    nil,
	}
	for user, roles := range grants {
		if err := s.CreateUser(ctx, User{GUID: user, Username: user, Scopes: []string{}}); err != nil {
			t.Fatalf("CreateUser %s: %v", user, err)
		}
		for i, r := range roles {
			r.GUID, r.UserGUID = user+"-"+string(rune('0'+i)), user
			if err := s.AddRole(ctx, r); err != nil {
				t.Fatalf("AddRole %+v: %v", r, err)
			}
		}
	}
	var viewers []Viewer
	for user := range grants {
		viewers = append(viewers, Viewer{UserGUID: user}, Viewer{All: true, UserGUID: user})
	}
	for _, v := range viewers {
		for guid := range apps {
			for _, withRoles := range []bool{false, true} {
				pl, err := s.GetAppPlace(ctx, v, guid, withRoles)
				want, werr := s.GetApp(ctx, v, guid)
				if errors.Is(werr, ErrNotFound) {
					if !errors.Is(err, ErrNotFound) {
						t.Errorf("%+v %s: GetAppPlace err = %v, want ErrNotFound", v, guid, err)
					}
					continue
				}
				if err != nil || werr != nil {
					t.Fatalf("%+v %s: GetAppPlace err = %v, GetApp err = %v", v, guid, err, werr)
				}
				if !reflect.DeepEqual(pl.App, want) {
					t.Errorf("%+v %s: App = %+v, want %+v", v, guid, pl.App, want)
				}
				sp, err := s.GetSpace(ctx, Viewer{All: true}, want.SpaceGUID)
				if err != nil {
					t.Fatalf("GetSpace: %v", err)
				}
				if !reflect.DeepEqual(pl.Space, sp) {
					t.Errorf("%+v %s: Space = %+v, want %+v", v, guid, pl.Space, sp)
				}
				org, err := s.GetOrg(ctx, Viewer{All: true}, sp.OrgGUID)
				if err != nil {
					t.Fatalf("GetOrg: %v", err)
				}
				if pl.OrgSuspended != org.Suspended {
					t.Errorf("%+v %s: OrgSuspended = %v, want %v", v, guid, pl.OrgSuspended, org.Suspended)
				}
				if v.All && !withRoles {
					continue
				}
				roles, err := s.RolesIn(ctx, v.UserGUID, sp.OrgGUID, sp.GUID)
				if err != nil {
					t.Fatalf("RolesIn: %v", err)
				}
				slices.Sort(roles)
				slices.Sort(pl.Roles)
				if !slices.Equal(pl.Roles, roles) {
					t.Errorf("%+v %s: Roles = %v, want %v", v, guid, pl.Roles, roles)
				}
			}
		}
	}
}
