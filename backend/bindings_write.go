package backend

import (
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Creating and deleting service credential bindings, and reading their
// details and parameters (ServiceCredentialBindingsController with
// V3::ServiceCredentialBindingAppCreate, V3::ServiceCredentialBindingKeyCreate
// and V3::ServiceCredentialBindingDelete). An app's binding of a
// user-provided instance is made at once, 201, with a copy of the
// instance's credentials; a binding or key of a managed instance is a job
// of the built-in broker, 202, and gets the credentials it generates.

// inProgress says whether a binding's last operation has not ended.
func inProgress(b store.ServiceCredentialBinding) bool {
	return b.LastOperation.State == "initial" || b.LastOperation.State == "in progress"
}

// bindingCreate is a POST /v3/service_credential_bindings body, read
// (ServiceCredentialBindingCreateMessage and its app and key messages).
type bindingCreate struct {
	typ, instance, app string
	name               *string
	params             json.RawMessage
	md                 *metadataPatch
	audit              json.RawMessage
}

func parseBindingCreate(body []byte) (bindingCreate, error) {
	var bc bindingCreate
	o, err := decodeObject(body, "type", "strategy", "name", "relationships", "parameters", "metadata")
	if err != nil {
		return bc, err
	}
	bc.audit = o.audit("parameters", hidden)
	typ, err := o.str("type", "Type")
	if err != nil || typ == nil || (*typ != "app" && *typ != "key") {
		return bc, errUnprocessable("Type must be 'app' or 'key'")
	}
	bc.typ = *typ
	if bc.params, err = parseParameters(o); err != nil {
		return bc, err
	}
	if bc.name, err = o.str("name", "Name"); err != nil {
		return bc, err
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return bc, err
	}
	if rels == nil {
		return bc, errUnprocessable("Relationships can't be blank")
	}
	allowed := []string{"service_instance"}
	if bc.typ == "app" {
		allowed = append(allowed, "app")
	}
	if err := rels.only(allowed...); err != nil {
		return bc, err
	}
	if bc.instance, err = toOneGUID(rels, "service_instance", "Service instance"); err != nil {
		return bc, err
	}
	switch bc.typ {
	case "app":
		if strategy, err := o.str("strategy", "Strategy"); err != nil || strategy != nil && *strategy != "single" && *strategy != "multiple" {
			return bc, errUnprocessable("Strategy must be 'single' or 'multiple'")
		}
		if bc.app, err = toOneGUID(rels, "app", "App"); err != nil {
			return bc, err
		}
	case "key":
		if bc.name == nil {
			return bc, errUnprocessable("Name must be a string, Name can't be blank")
		}
		if *bc.name == "" {
			return bc, errUnprocessable("Name can't be blank")
		}
	}
	bc.md, err = o.metadata()
	return bc, err
}

// createServiceCredentialBinding is POST /v3/service_credential_bindings.
func (s *Server) createServiceCredentialBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	bc, err := parseBindingCreate(r.ctx.PostBody())
	if err != nil {
		return err
	}
	return s.createBinding(r, bc)
}

// createBinding makes the binding or key bc asks for and answers as
// POST /v3/service_credential_bindings does.
func (s *Server) createBinding(r *request, bc bindingCreate) error {
	si, err := s.store.GetServiceInstance(r.ctx, r.user.viewer(), bc.instance)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("The service instance could not be found: '" + bc.instance + "'")
	}
	if err != nil {
		return errInternal(err)
	}
	if si.Type == store.UserProvided && bc.params != nil {
		return errUnprocessable("Binding parameters are not supported for user-provided service instances")
	}
	now := s.store.Now()
	b := store.ServiceCredentialBinding{GUID: uuid.NewString(), Type: bc.typ, Name: bc.name, ServiceInstanceGUID: si.GUID,
		LastOperation: store.LastOperation{Type: "create", State: "initial"}, CreatedAt: now, UpdatedAt: now}
	if bc.md != nil {
		b.Labels, b.Annotations = apply(nil, bc.md.labels), apply(nil, bc.md.annotations)
	}
	c := store.ServiceChange{Binding: &b}
	if bc.typ == "key" {
		err = s.keyPrecursor(r, si, &b, &c)
	} else {
		err = s.appBindingPrecursor(r, si, bc.app, &b, &c)
	}
	if err != nil {
		return err
	}
	event := s.serviceEvent(r.ctx, r.user.actor(), bindingEventType(b, "create"), b.GUID, bindingTarget(b), deref(b.Name), b.SpaceGUID,
		auditData(bc.audit))
	if si.Type == store.UserProvided {
		b.Credentials, b.SyslogDrainURL, b.LastOperation = si.Credentials, si.SyslogDrainURL, store.LastOperation{Type: "create", State: "succeeded"}
		c.Events = []store.Event{event}
		if err := s.store.ApplyServices(r.ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errUnprocessable("The app is already bound to the service instance")
			}
			return errInternal(err)
		}
		return r.reply(201, presentBinding(r.base, b, true))
	}
	plan, offerings, err := s.planOf(r.ctx, si)
	if err != nil {
		return err
	}
	sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, si.SpaceGUID)
	if err != nil {
		return errInternal(err)
	}
	async, err := s.broker.Bind(r.ctx, si.GUID, b.GUID, osbBindRequest{ServiceID: offerings[plan.OfferingGUID].UniqueID, PlanID: plan.UniqueID,
		AppGUID: bc.app, Context: brokerContext(sp, ""), Parameters: bc.params})
	if err != nil {
		return errInternal(err)
	}
	event.Type = bindingEventType(b, "start_create")
	c.Events = []store.Event{event}
	operation := "service_bindings.create"
	if b.Type == "key" {
		operation = "service_keys.create"
	}
	err = s.serviceJob(r, &c, operation, opBinding, b.GUID, "create", async, opRequest{Audit: bc.audit})
	if errors.Is(err, store.ErrConflict) {
		return errUnprocessable("The app is already bound to the service instance")
	}
	return err
}

// managedBindable is validate_service_instance! for a managed instance:
// its plan allows bindings, its create did not fail, nothing is in
// progress. noBindings is the plan's text, which differs for keys.
func (s *Server) managedBindable(r *request, si store.ServiceInstance, noBindings string) error {
	plan, offerings, err := s.planOf(r.ctx, si)
	if err != nil {
		return err
	}
	lo := si.LastOperation
	switch {
	case !planBindable(plan, offerings[plan.OfferingGUID]):
		return errUnprocessable(noBindings)
	case lo != nil && lo.Type == "create" && lo.State == "failed":
		return errUnprocessable("Service instance not found")
	case lo.InProgress():
		return errUnprocessable("There is an operation in progress for the service instance")
	}
	return nil
}

// keyPrecursor checks a key's create and readies b and c
// (ServiceCredentialBindingKeyCreate#precursor): a key of the same name
// that failed to be made gives way.
func (s *Server) keyPrecursor(r *request, si store.ServiceInstance, b *store.ServiceCredentialBinding, c *store.ServiceChange) error {
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	if si.Type == store.UserProvided {
		return errUnprocessable("Service credential bindings of type 'key' are not supported for user-provided service instances.")
	}
	if err := s.managedBindable(r, si, "Service plan does not allow bindings."); err != nil {
		return err
	}
	b.SpaceGUID = si.SpaceGUID
	keys, _, err := s.store.ListServiceCredentialBindings(r.ctx, store.Viewer{All: true},
		store.BindingFilter{ServiceInstanceGUIDs: []string{si.GUID}, Names: []string{*b.Name}, Types: []string{"key"}}, store.Page{Page: 1, PerPage: 1})
	if err != nil {
		return errInternal(err)
	}
	for _, k := range keys {
		switch lo := k.LastOperation; {
		case lo.Type == "create" && lo.State == "failed":
			c.DeleteBindings = append(c.DeleteBindings, k.GUID)
		case lo.Type == "delete":
			return errUnprocessable("The binding name is invalid. Key binding names must be unique. The service instance already has a key binding " +
				"with the name '" + *b.Name + "' that is getting deleted or its deletion failed.")
		default:
			return errUnprocessable("The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '" +
				*b.Name + "'.")
		}
	}
	return s.keyQuotaErr(r.ctx, si.SpaceGUID, c.DeleteBindings)
}

// appBindingPrecursor checks an app binding's create and readies b and c
// (ServiceCredentialBindingAppCreate#precursor, one binding per app and
// instance): a binding that failed to be made gives way.
func (s *Server) appBindingPrecursor(r *request, si store.ServiceInstance, appGUID string, b *store.ServiceCredentialBinding, c *store.ServiceChange) error {
	a, err := s.store.GetApp(r.ctx, r.user.viewer(), appGUID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnprocessable("The app could not be found: '" + appGUID + "'")
	}
	if err != nil {
		return errInternal(err)
	}
	roles, err := s.spaceRoles(r, a.SpaceGUID)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	shared, err := s.store.SharedSpaces(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	inSpace := si.SpaceGUID == a.SpaceGUID
	for _, sp := range shared {
		inSpace = inSpace || sp.GUID == a.SpaceGUID
	}
	if !inSpace {
		return errUnprocessable("The service instance and the app are in different spaces")
	}
	if si.Type == store.Managed {
		if err := s.managedBindable(r, si, "Service plan does not allow bindings"); err != nil {
			return err
		}
	}
	b.AppGUID, b.SpaceGUID = &a.GUID, a.SpaceGUID
	existing, _, err := s.store.ListServiceCredentialBindings(r.ctx, store.Viewer{All: true},
		store.BindingFilter{AppGUIDs: []string{a.GUID}, Types: []string{"app"}}, store.Page{Page: 1, PerPage: maxPerPage})
	if err != nil {
		return errInternal(err)
	}
	for _, e := range existing {
		lo := e.LastOperation
		switch {
		case e.ServiceInstanceGUID != si.GUID:
			if b.Name != nil && e.Name != nil && *e.Name == *b.Name {
				return errUnprocessable("The binding name is invalid. Binding names must be unique for a given service instance and app. " +
					"The app already has a binding with name '" + *b.Name + "'.")
			}
		case lo.Type == "create" && lo.State == "failed":
			c.DeleteBindings = append(c.DeleteBindings, e.GUID)
		case lo.Type == "create":
			return errUnprocessable("The app is already bound to the service instance")
		default:
			return errUnprocessable("The binding is getting deleted or its deletion failed")
		}
	}
	return nil
}

// bindingWithRoles loads the binding of the path if the caller can see
// it, with the caller's roles in its space.
func (s *Server) bindingWithRoles(r *request) (store.ServiceCredentialBinding, spaceRoles, error) {
	b, err := s.store.GetServiceCredentialBinding(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return b, spaceRoles{}, storeErr(err, "Service credential binding")
	}
	roles, err := s.spaceRoles(r, b.SpaceGUID)
	return b, roles, err
}

// deleteServiceCredentialBinding is DELETE
// /v3/service_credential_bindings/:guid: a binding of a user-provided
// instance goes at once, 204; one of a managed instance is unbound by a
// job, 202.
func (s *Server) deleteServiceCredentialBinding(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	b, roles, err := s.bindingWithRoles(r)
	if err != nil {
		return err
	}
	if err := roles.writeErr(); err != nil {
		return err
	}
	// A binding being made or unmade blocks (CC lets an unbind start once
	// a create has left "initial"; the embedded CF waits for it).
	if inProgress(b) {
		return errUnprocessable("There is an operation in progress for the service binding.")
	}
	si, err := s.store.GetServiceInstance(r.ctx, store.Viewer{All: true}, b.ServiceInstanceGUID)
	if err != nil {
		return errInternal(err)
	}
	if si.LastOperation.InProgress() {
		return errUnprocessable("There is an operation in progress for the service instance.")
	}
	event := s.serviceEvent(r.ctx, r.user.actor(), bindingEventType(b, "delete"), b.GUID, bindingTarget(b), deref(b.Name), b.SpaceGUID, auditData(nil))
	if si.Type == store.UserProvided {
		if err := s.store.ApplyServices(r.ctx, store.ServiceChange{DeleteBindings: []string{b.GUID}, Events: []store.Event{event}}); err != nil {
			return storeErr(err, "Service credential binding")
		}
		r.ctx.SetStatusCode(204)
		return nil
	}
	async, err := s.broker.Unbind(r.ctx, si.GUID, b.GUID)
	if err != nil {
		return errInternal(err)
	}
	b.LastOperation, b.UpdatedAt = store.LastOperation{Type: "delete", State: "in progress"}, s.store.Now()
	event.Type = bindingEventType(b, "start_delete")
	c := store.ServiceChange{Binding: &b, Events: []store.Event{event}}
	operation := "service_bindings.delete"
	if b.Type == "key" {
		operation = "service_keys.delete"
	}
	return s.serviceJob(r, &c, operation, opBinding, b.GUID, "delete", async, opRequest{})
}
