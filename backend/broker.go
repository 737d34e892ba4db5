package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"capibridge/backend/store"
)

// The built-in service broker. It runs in the process and speaks the Open
// Service Broker API's shapes (OSB v2.17: the catalog, provision, update,
// deprovision, bind, unbind, last_operation and the fetches) without the
// HTTP: the platform side (services_managed.go, service_ops.go) calls it
// as CC's VCAP::Services::ServiceBrokers::V2::Client calls a broker, with
// accepts_incomplete=true, and the broker answers every operation
// asynchronously (202 and an operation) for DefaultBrokerDuration or what
// WithBrokerDuration sets.
//
// An operation's outcome is decided when it is asked for and carried in
// its operation string with its finish time, so last_operation depends on
// the clock alone and survives a restart. What the broker keeps (the
// parameters, credentials and the instance's name) is in the store's
// broker_records, written as a broker would on receiving a request; an
// operation's effect on them is made when last_operation first reports it
// over.
//
// Failures are asked for by name, as staging's are by a file in the bits:
// an instance whose name contains capibridge-fail fails to provision;
// capibridge-fail-update, -deprovision, -bind and -unbind instead make
// that operation fail (bind and unbind for every binding and key of the
// instance). Parameters with a "capibridge-fail" key make the provision,
// update or bind they come with fail, with the key's string value as the
// broker's description.

// DefaultBrokerDuration is how long an operation of the built-in broker
// takes unless WithBrokerDuration says otherwise: the embedded CF's config
// type (configs.Backend) lives outside this package.
const DefaultBrokerDuration = time.Second

// WithBrokerDuration sets how long the built-in broker's operations take.
func WithBrokerDuration(d time.Duration) Option { return func(s *Server) { s.brokerDuration = d } }

// failMarker in a name or a parameter key asks the broker to fail.
const failMarker = "capibridge-fail"

// What the broker puts in credentials and says in the context and in
// last_operation.
const (
	brokerCredentialsHost  = "capibridge-db.service.internal"
	brokerCredentialsPort  = 5432
	brokerPlatform         = "cloudfoundry"
	brokerOperationPending = "in progress"
)

// broker is the built-in broker.
type broker struct {
	store    *store.Store
	now      func() time.Time
	duration time.Duration
}

// osbContext is the platform context CC sends (Client#context_hash).
type osbContext struct {
	Platform         string `json:"platform"`
	OrganizationGUID string `json:"organization_guid"`
	SpaceGUID        string `json:"space_guid"`
	InstanceName     string `json:"instance_name,omitempty"`
}

// osbInstanceRequest is the body of a provision or an update.
type osbInstanceRequest struct {
	ServiceID  string          `json:"service_id"`
	PlanID     string          `json:"plan_id"`
	Context    osbContext      `json:"context"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// osbBindRequest is the body of a bind: an app's, or a key's without one.
type osbBindRequest struct {
	ServiceID  string          `json:"service_id"`
	PlanID     string          `json:"plan_id"`
	AppGUID    string          `json:"app_guid,omitempty"`
	Context    osbContext      `json:"context"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// osbAsync is a 202 answer: the operation to poll.
type osbAsync struct {
	Operation string `json:"operation"`
}

// osbLastOperation is a last_operation answer; RetryAfter is its
// Retry-After header.
type osbLastOperation struct {
	State       string `json:"state"`
	Description string `json:"description,omitempty"`
	RetryAfter  time.Duration
}

// osbFetched is a fetched instance or binding (GET on either).
type osbFetched struct {
	ServiceID   string          `json:"service_id,omitempty"`
	PlanID      string          `json:"plan_id,omitempty"`
	Credentials json.RawMessage `json:"credentials,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// errBrokerGone is OSB's 410 Gone: no such instance or binding.
var errBrokerGone = errors.New("backend: broker: gone")

// Provision starts creating instance id.
func (b *broker) Provision(ctx context.Context, id string, req osbInstanceRequest) (osbAsync, error) {
	rec := store.BrokerRecord{ID: id, Kind: "instance", Name: req.Context.InstanceName, ServiceID: req.ServiceID, PlanID: req.PlanID,
		Parameters: req.Parameters}
	if err := b.store.PutBrokerRecord(ctx, rec); err != nil {
		return osbAsync{}, err
	}
	return b.start("provision", b.failure("provision", rec.Name, req.Parameters)), nil
}

// Update starts changing instance id's plan or parameters.
func (b *broker) Update(ctx context.Context, id string, req osbInstanceRequest) (osbAsync, error) {
	rec, err := b.record(ctx, id)
	if err != nil {
		return osbAsync{}, err
	}
	rec.Name, rec.Pending = req.Context.InstanceName, json.RawMessage(`{}`)
	if len(req.Parameters) > 0 {
		rec.Pending = req.Parameters
	}
	if err := b.store.PutBrokerRecord(ctx, rec); err != nil {
		return osbAsync{}, err
	}
	return b.start("update", b.failure("update", rec.Name, req.Parameters)), nil
}

// Deprovision starts deleting instance id.
func (b *broker) Deprovision(ctx context.Context, id string) (osbAsync, error) {
	rec, err := b.record(ctx, id)
	if errors.Is(err, errBrokerGone) {
		return b.start("deprovision", ""), nil
	}
	if err != nil {
		return osbAsync{}, err
	}
	return b.start("deprovision", b.failure("deprovision", rec.Name, nil)), nil
}

// Bind starts creating binding id of instance, with new credentials.
func (b *broker) Bind(ctx context.Context, instance, id string, req osbBindRequest) (osbAsync, error) {
	inst, err := b.record(ctx, instance)
	if err != nil {
		return osbAsync{}, err
	}
	creds, err := newCredentials(instance)
	if err != nil {
		return osbAsync{}, err
	}
	rec := store.BrokerRecord{ID: id, Kind: "binding", InstanceID: instance, ServiceID: req.ServiceID, PlanID: req.PlanID,
		Parameters: req.Parameters, Credentials: creds}
	if err := b.store.PutBrokerRecord(ctx, rec); err != nil {
		return osbAsync{}, err
	}
	return b.start("bind", b.failure("bind", inst.Name, req.Parameters)), nil
}

// Unbind starts deleting binding id of instance.
func (b *broker) Unbind(ctx context.Context, instance, id string) (osbAsync, error) {
	inst, err := b.record(ctx, instance)
	if err != nil && !errors.Is(err, errBrokerGone) {
		return osbAsync{}, err
	}
	return b.start("unbind", b.failure("unbind", inst.Name, nil)), nil
}

// LastOperation reports on operation of the instance or binding id, and
// makes the operation's effect once it is over.
func (b *broker) LastOperation(ctx context.Context, id, operation string) (osbLastOperation, error) {
	verb, finish, failure := parseOperation(operation)
	if wait := time.Duration(finish-b.now().UnixMilli()) * time.Millisecond; wait > 0 {
		return osbLastOperation{State: brokerOperationPending, Description: verbing[verb] + " " + id, RetryAfter: wait}, nil
	}
	rec, err := b.record(ctx, id)
	if err != nil && !errors.Is(err, errBrokerGone) {
		return osbLastOperation{}, err
	}
	gone := errors.Is(err, errBrokerGone)
	switch {
	case failure != "" && (verb == "provision" || verb == "bind"):
		err = b.store.DeleteBrokerRecord(ctx, id)
	case failure != "" && verb == "update" && !gone:
		rec.Pending = nil
		err = b.store.PutBrokerRecord(ctx, rec)
	case failure == "" && verb == "update" && !gone:
		if len(rec.Pending) > 0 {
			rec.Parameters, rec.Pending = rec.Pending, nil
		}
		err = b.store.PutBrokerRecord(ctx, rec)
	case failure == "" && (verb == "deprovision" || verb == "unbind"):
		err = b.store.DeleteBrokerRecord(ctx, id)
	}
	if err != nil {
		return osbLastOperation{}, err
	}
	if failure != "" {
		return osbLastOperation{State: "failed", Description: failure}, nil
	}
	return osbLastOperation{State: "succeeded", Description: verb + " succeeded"}, nil
}

// verbing is what last_operation says of an operation in progress.
var verbing = map[string]string{"provision": "provisioning", "update": "updating", "deprovision": "deprovisioning",
	"bind": "binding", "unbind": "unbinding"}

// Fetch returns the instance or binding id (GET /v2/service_instances/:id,
// /v2/service_instances/:i/service_bindings/:id).
func (b *broker) Fetch(ctx context.Context, id string) (osbFetched, error) {
	rec, err := b.record(ctx, id)
	if err != nil {
		return osbFetched{}, err
	}
	out := osbFetched{ServiceID: rec.ServiceID, PlanID: rec.PlanID, Parameters: rec.Parameters}
	if rec.Kind == "binding" {
		out.ServiceID, out.PlanID, out.Credentials = "", "", rec.Credentials
	}
	if len(out.Parameters) == 0 {
		out.Parameters = json.RawMessage(`{}`)
	}
	return out, nil
}

func (b *broker) record(ctx context.Context, id string) (store.BrokerRecord, error) {
	rec, err := b.store.GetBrokerRecord(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return rec, errBrokerGone
	}
	return rec, err
}

// start is a 202 for an operation of verb ending DefaultBrokerDuration (or
// the configured duration) from now, failing with failure when it is set.
func (b *broker) start(verb, failure string) osbAsync {
	finish := b.now().Add(b.duration).UnixMilli()
	return osbAsync{Operation: verb + "/" + strconv.FormatInt(finish, 10) + "/" + url.QueryEscape(failure)}
}

// parseOperation reads what start wrote.
func parseOperation(op string) (verb string, finish int64, failure string) {
	parts := strings.SplitN(op, "/", 3)
	if len(parts) != 3 {
		return op, 0, "The operation is unknown to the broker"
	}
	finish, _ = strconv.ParseInt(parts[1], 10, 64)
	failure, _ = url.QueryUnescape(parts[2])
	return parts[0], finish, failure
}

// failure is the broker's description of why verb fails for the instance
// called name with params, "" when it succeeds.
func (b *broker) failure(verb, name string, params json.RawMessage) string {
	var p map[string]json.RawMessage
	if json.Unmarshal(params, &p) == nil {
		if v, ok := p[failMarker]; ok {
			var text string
			if json.Unmarshal(v, &text) != nil || text == "" {
				text = "the parameters asked for a failure"
			}
			return text
		}
	}
	for rest := name; ; {
		i := strings.Index(rest, failMarker)
		if i < 0 {
			return ""
		}
		rest = rest[i+len(failMarker):]
		asked := "provision"
		for v := range verbing {
			if v != "provision" && strings.HasPrefix(rest, "-"+v) {
				asked = v
			}
		}
		if asked == verb {
			return fmt.Sprintf("The %s failed: the instance name %q asks for it", verb, name)
		}
	}
}

// newCredentials makes a binding's credentials for a database of instance.
func newCredentials(instance string) (json.RawMessage, error) {
	var secret [20]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	user := "u" + hex.EncodeToString(secret[:6])
	password := hex.EncodeToString(secret[6:])
	db := "db_" + strings.ReplaceAll(instance, "-", "")[:12]
	return json.Marshal(struct {
		URI      string `json:"uri"`
		Username string `json:"username"`
		Password string `json:"password"`
		Host     string `json:"host"`
		Port     int    `json:"port"`
		Database string `json:"database"`
	}{fmt.Sprintf("postgres://%s:%s@%s:%d/%s", user, password, brokerCredentialsHost, brokerCredentialsPort, db),
		user, password, brokerCredentialsHost, brokerCredentialsPort, db})
}
