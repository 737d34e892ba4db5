package backend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// The work of the space.delete and organization.delete jobs
// (cc:app/actions/space_delete.rb, organization_delete.rb, run by
// DeleteActionJob). A failure fails the job with CC's error: 502
// SpaceDeletionFailed or OrganizationDeletionFailed, whose text lists what
// could not be deleted.

// recursiveData is the data of CC's delete-request events.
var recursiveData = json.RawMessage(`{"request":{"recursive":true}}`)

func errSpaceDeletionFailed(space string, problems []string) *apiError {
	return &apiError{Status: 502, Code: 290008, Title: "CF-SpaceDeletionFailed",
		Detail: "Deletion of space " + space + " failed because one or more resources within could not be deleted.\n\n" + strings.Join(problems, "\n\n")}
}

func errOrgDeletionFailed(org string, problems []string) *apiError {
	return &apiError{Status: 502, Code: 290010, Title: "CF-OrganizationDeletionFailed",
		Detail: "Deletion of organization " + org + " failed because one or more resources within could not be deleted.\n\n" + strings.Join(problems, "\n\n")}
}

// jobActor is who started job j, for the events its work records.
func (s *Server) jobActor(ctx context.Context, j store.Job) store.Actor {
	u, err := s.store.GetUser(ctx, j.UserGUID)
	if err != nil {
		return store.Actor{GUID: j.UserGUID, Type: "user"}
	}
	name := u.Email
	if name == "" {
		name = u.Username
	}
	return store.Actor{GUID: u.GUID, Type: "user", Name: name}
}

// spaceDeleteWork deletes the space guid with its apps, routes, service
// instances and roles, and unshares the instances shared into it. A
// managed instance is deprovisioned first, which the built-in broker does
// at once when asked here; one with an operation in progress cannot be,
// and stops the space's deletion (CC's AsyncServiceInstanceOperationInProgress).
func (s *Server) spaceDeleteWork(ctx context.Context, j store.Job, guid string) error {
	sp, err := s.store.GetSpace(ctx, store.Viewer{All: true}, guid)
	if err != nil {
		return err
	}
	if problems, err := s.deprovisionSpace(ctx, sp); err != nil || len(problems) > 0 {
		if err != nil {
			return err
		}
		return errSpaceDeletionFailed(sp.Name, problems)
	}
	return s.store.DeleteSpace(ctx, sp.GUID, s.spaceEvent(s.jobActor(ctx, j), "audit.space.delete-request", sp, recursiveData))
}

// deprovisionSpace forgets the broker's records of the space's managed
// instances and their bindings, and returns, one per instance that is
// busy, why the space cannot go (tab-indented, as SpaceDelete writes them).
func (s *Server) deprovisionSpace(ctx context.Context, sp store.Space) ([]string, error) {
	instances, _, err := s.store.ListServiceInstances(ctx, store.Viewer{All: true},
		store.ServiceInstanceFilter{SpaceGUIDs: []string{sp.GUID}, Types: []string{store.Managed}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return nil, err
	}
	var problems, records []string
	for _, si := range instances {
		if si.SpaceGUID != sp.GUID {
			continue // shared into the space: unshared, not deleted
		}
		if si.LastOperation.InProgress() {
			problems = append(problems, "\tAn operation for service instance "+si.Name+" is in progress.")
			continue
		}
		bindings, err := s.instanceBindings(ctx, si.GUID)
		if err != nil {
			return nil, err
		}
		for _, b := range bindings {
			records = append(records, b.GUID)
		}
		records = append(records, si.GUID)
	}
	if len(problems) > 0 {
		return problems, nil
	}
	for _, id := range records {
		if err := s.store.DeleteBrokerRecord(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

// orgDeleteWork deletes every space of the org guid as spaceDeleteWork
// does, then the org with its own domains, its share of other orgs'
// domains and its roles. A space that cannot go, or an own domain still
// shared with other orgs, stops the org's deletion.
func (s *Server) orgDeleteWork(ctx context.Context, j store.Job, guid string) error {
	org, err := s.store.GetOrg(ctx, store.Viewer{All: true}, guid)
	if err != nil {
		return err
	}
	spaces, _, err := s.store.ListSpaces(ctx, store.Viewer{All: true}, store.SpaceFilter{OrgGUIDs: []string{guid}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return err
	}
	var problems []string
	for _, sp := range spaces {
		var failed *apiError
		switch err := s.spaceDeleteWork(ctx, j, sp.GUID); {
		case errors.As(err, &failed):
			problems = append(problems, failed.Detail)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if len(problems) > 0 {
		return errOrgDeletionFailed(org.Name, problems)
	}
	domains, _, err := s.store.ListDomains(ctx, store.Viewer{All: true}, store.DomainFilter{OrgGUIDs: []string{guid}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return err
	}
	for _, d := range domains {
		if d.OrgGUID != guid {
			continue
		}
		shared, err := s.store.SharedOrgs(ctx, store.Viewer{All: true}, []string{d.GUID})
		if err != nil {
			return err
		}
		if len(shared[d.GUID]) > 0 {
			problems = append(problems, "Domain '"+d.Name+"' is shared with other organizations. Unshare before deleting.")
		}
	}
	if len(problems) > 0 {
		return errOrgDeletionFailed(org.Name, problems)
	}
	actor := s.jobActor(ctx, j)
	return s.store.DeleteOrg(ctx, guid, store.Event{GUID: uuid.NewString(), Type: "audit.organization.delete-request", Actor: actor,
		TargetGUID: org.GUID, TargetType: "organization", TargetName: org.Name, OrgGUID: org.GUID, Data: recursiveData, CreatedAt: s.store.Now()})
}
