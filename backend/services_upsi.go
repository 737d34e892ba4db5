package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"capibridge/backend/store"
)

// The bodies of service instance creates and updates, and what only
// user-provided instances have: their update and their credentials
// (ServiceInstanceCreateUserProvidedMessage,
// ServiceInstanceUpdateUserProvidedMessage, ServiceInstanceUpdateUserProvided).

// parseURL checks an optional URL field as CC's UriValidator does.
func parseURL(o object, key, label string) (*string, error) {
	v, err := o.str(key, label)
	if err != nil || v == nil || *v == "" {
		return v, err
	}
	if u, err := url.Parse(*v); err != nil || u.Scheme == "" {
		return nil, errUnprocessable(label + " must be a valid URI")
	}
	return v, nil
}

// parseName reads the name of an instance create (presence: true).
func parseName(o object) (string, error) {
	name, err := o.str("name", "Name")
	if err != nil {
		return "", err
	}
	if name == nil {
		return "", errUnprocessable("Name must be a string")
	}
	if *name = strings.Trim(*name, rubyWhitespace); *name == "" {
		return "", errUnprocessable("Name can't be blank")
	}
	return *name, nil
}

// parseTags reads tags: a list of strings, 2048 characters in all.
func parseTags(o object) ([]string, error) {
	tags := []string{}
	if !o.has("tags") || o.isNull("tags") {
		return tags, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(o["tags"], &raw); err != nil {
		return nil, errUnprocessable("Tags must be an array")
	}
	total := 0
	for _, t := range raw {
		var tag string
		if err := json.Unmarshal(t, &tag); err != nil {
			return nil, errUnprocessable("Tags must be a list of strings")
		}
		tags = append(tags, tag)
		total += len(tag)
	}
	if total > 2048 {
		return nil, errUnprocessable("Tags combined length must be 2048 characters or less")
	}
	return tags, nil
}

// parseUserProvidedFields reads what a user-provided instance's create and
// update share: credentials, the two URLs and tags, into si.
func parseUserProvidedFields(o object, si *store.ServiceInstance) error {
	if o.has("credentials") && !o.isNull("credentials") {
		if _, err := o.sub("credentials", "Credentials"); err != nil {
			return err
		}
		// Kept as sent, key order included.
		var compact bytes.Buffer
		if err := json.Compact(&compact, o["credentials"]); err != nil {
			return errUnprocessable("Credentials must be an object")
		}
		si.Credentials = compact.Bytes()
	} else if o.has("credentials") {
		si.Credentials = nil
	}
	var err error
	if o.has("syslog_drain_url") {
		if si.SyslogDrainURL, err = parseURL(o, "syslog_drain_url", "Syslog drain url"); err != nil {
			return err
		}
	}
	if o.has("route_service_url") {
		if si.RouteServiceURL, err = parseURL(o, "route_service_url", "Route service url"); err != nil {
			return err
		}
		if si.RouteServiceURL != nil && *si.RouteServiceURL != "" && !strings.HasPrefix(*si.RouteServiceURL, "https:") {
			return errUnprocessable("Route service url must be https")
		}
	}
	if o.has("tags") {
		si.Tags, err = parseTags(o)
	}
	return err
}

// parseUserProvided reads the body of a user-provided service instance
// create (ServiceInstanceCreateUserProvidedMessage).
func parseUserProvided(o object) (store.ServiceInstance, error) {
	si := store.ServiceInstance{Type: store.UserProvided, Tags: []string{}}
	if err := o.only("type", "name", "relationships", "tags", "metadata", "credentials", "syslog_drain_url", "route_service_url"); err != nil {
		return si, err
	}
	var err error
	if si.Name, err = parseName(o); err != nil {
		return si, err
	}
	if err := parseUserProvidedFields(o, &si); err != nil {
		return si, err
	}
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return si, err
	}
	if rels == nil {
		return si, errUnprocessable("Relationships can't be blank")
	}
	if err := rels.only("space"); err != nil {
		return si, err
	}
	si.SpaceGUID, err = toOneGUID(rels, "space", "Space")
	return si, err
}

// updateServiceInstance is PATCH /v3/service_instances/:guid. A
// user-provided instance changes at once, and its bindings take its new
// credentials and syslog drain (ServiceInstanceUpdateUserProvided), 200.
func (s *Server) updateServiceInstance(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.writableServiceInstance(r)
	if err != nil {
		return err
	}
	o, err := decodeAny(r.ctx.PostBody())
	if err != nil {
		return err
	}
	if si.Type == store.Managed {
		return s.updateManagedInstance(r, si, o)
	}
	if err := o.only("name", "tags", "credentials", "syslog_drain_url", "route_service_url", "metadata"); err != nil {
		return err
	}
	name, err := o.str("name", "Name")
	if err != nil {
		return err
	}
	if err := parseUserProvidedFields(o, &si); err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	if name != nil {
		if *name == "" {
			// The model's presence validation, in Sequel's words.
			return errUnprocessable("name is not present")
		}
		si.Name = *name
	}
	if md != nil {
		si.Labels, si.Annotations = apply(si.Labels, md.labels), apply(si.Annotations, md.annotations)
	}
	now := s.store.Now()
	done := "Operation succeeded"
	si.UpdatedAt, si.LastOperation = now, &store.InstanceOperation{Type: "update", State: "succeeded", Description: &done, CreatedAt: now, UpdatedAt: now}
	c := store.ServiceChange{Instance: &si, CopyCredentials: o.has("credentials") || o.has("syslog_drain_url"),
		CopyRouteServiceURL: o.has("route_service_url"),
		Events: []store.Event{s.serviceEvent(r.ctx, r.user.actor(), "audit.user_provided_service_instance.update",
			si.GUID, "user_provided_service_instance", si.Name, si.SpaceGUID, auditData(o.audit("credentials", "[REDACTED]")))}}
	if err := s.store.ApplyServices(r.ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errUnprocessable("The service instance name is taken: " + si.Name + ".")
		}
		return errInternal(err)
	}
	return r.reply(200, presentServiceInstance(r.base, si))
}

// getServiceInstanceCredentials is GET /v3/service_instances/:guid/credentials:
// a user-provided instance's credentials, for readers of secrets, which CC
// records as an audit.user_provided_service_instance.show event.
func (s *Server) getServiceInstanceCredentials(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.store.GetServiceInstance(r.ctx, r.user.viewer(), r.params[0])
	if err == nil && si.Type != store.UserProvided {
		err = store.ErrNotFound
	}
	if err != nil {
		return storeErr(err, "Service instance")
	}
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return err
	}
	if !roles.secrets {
		return errNotAuthorized()
	}
	if err := s.store.RecordEvents(r.ctx, s.serviceInstanceEvent(r, "audit.user_provided_service_instance.show", si, map[string]any{})); err != nil {
		return errInternal(err)
	}
	creds := si.Credentials
	if len(creds) == 0 {
		creds = json.RawMessage("{}")
	}
	return r.reply(200, creds)
}
