package backend

import (
	"bytes"
	"encoding/json"
	"regexp"

	"capibridge/backend/store"
)

// Environment variable groups (cc:app/controllers/v3/environment_variable_groups_controller.rb,
// app/messages/update_environment_variables_message.rb,
// app/actions/environment_variable_group_update.rb): the running group
// is given to every app that runs, the staging group to every staging.
// Every user reads them; only admins change them.

// envGroupJSON is EnvironmentVariableGroupPresenter's body.
type envGroupJSON struct {
	UpdatedAt string            `json:"updated_at"`
	Name      string            `json:"name"`
	Var       map[string]string `json:"var"`
	Links     struct {
		Self link `json:"self"`
	} `json:"links"`
}

func presentEnvGroup(base string, g store.EnvGroup) envGroupJSON {
	j := envGroupJSON{UpdatedAt: timestamp(g.UpdatedAt), Name: g.Name, Var: g.Var}
	j.Links.Self = link{Href: base + "/v3/environment_variable_groups/" + g.Name}
	return j
}

// findEnvGroup reads the group the path names, "running" or "staging".
func (s *Server) findEnvGroup(r *request) (store.EnvGroup, error) {
	name := r.params[0]
	if name != "running" && name != "staging" {
		return store.EnvGroup{}, errNotFound("Environment variable group")
	}
	g, err := s.store.GetEnvGroup(r.ctx, name)
	if err != nil {
		return g, storeErr(err, "Environment variable group")
	}
	return g, nil
}

// envGroupVars returns the variables of the group name, for what an app
// is given.
func (s *Server) envGroupVars(r *request, name string) (map[string]string, error) {
	g, err := s.store.GetEnvGroup(r.ctx, name)
	if err != nil {
		return nil, errInternal(err)
	}
	return g.Var, nil
}

// getEnvGroup is GET /v3/environment_variable_groups/:name.
func (s *Server) getEnvGroup(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	g, err := s.findEnvGroup(r)
	if err != nil {
		return err
	}
	return r.reply(200, presentEnvGroup(r.base, g))
}

// updateEnvGroup is PATCH /v3/environment_variable_groups/:name: the
// message is validated first, then the caller must be an admin; var is
// merged into the group, a null deleting its key.
func (s *Server) updateEnvGroup(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	body := r.ctx.PostBody()
	// UpdateEnvironmentVariablesMessage.for_env_var_group reads {} as an
	// empty var.
	if o, err := decodeAny(body); err == nil && len(o) == 0 {
		body = []byte(`{"var":{}}`)
	}
	vars, err := parseEnvVarsMessage(body)
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	g, err := s.findEnvGroup(r)
	if err != nil {
		return err
	}
	if g, err = s.store.PatchEnvGroup(r.ctx, g.Name, vars, s.store.Now()); err != nil {
		return errInternal(err)
	}
	return r.reply(200, presentEnvGroup(r.base, g))
}

// envKeyVCAP, envKeyVMC and envKeyPORT are the variable names
// EnvironmentVariablesStringValuesValidator refuses, whatever their case.
var (
	envKeyVCAP = regexp.MustCompile(`(?i)^VCAP_`)
	envKeyVMC  = regexp.MustCompile(`(?i)^VMC`)
	envKeyPORT = regexp.MustCompile(`(?i)^PORT$`)
)

// parseEnvVarsMessage validates a body as UpdateEnvironmentVariablesMessage
// does: only var, an object whose keys are allowed and whose values are
// strings or null, every problem in one 422 in the order of the body's
// keys. A nil value deletes its key.
func parseEnvVarsMessage(body []byte) (map[string]*string, error) {
	o, err := decodeAny(body)
	if err != nil {
		return nil, err
	}
	var p problems
	p.addErr("", o.only("var"))
	keys, ok := objectKeys(o["var"])
	if !ok {
		p.add("Var must be an object")
		return nil, p.err()
	}
	var vars object
	_ = json.Unmarshal(o["var"], &vars)
	out := make(map[string]*string, len(keys))
	for _, k := range keys {
		v := vars[k]
		switch kind := jsonKind(v); {
		case k == "":
			p.add("Var key must be a minimum length of 1")
		case envKeyVCAP.MatchString(k):
			p.add("Var cannot start with VCAP_")
		case envKeyVMC.MatchString(k):
			p.add("Var cannot start with VMC_")
		case envKeyPORT.MatchString(k):
			p.add("Var cannot set PORT")
		case kind == 'n':
			out[k] = nil
		case kind == '"':
			var s string
			_ = json.Unmarshal(v, &s)
			out[k] = &s
		default:
			var compact bytes.Buffer
			if json.Compact(&compact, v) != nil {
				compact.Write(v)
			}
			p.add("Non-string value in environment variable for key '" + k + "', value '" + compact.String() + "'")
		}
	}
	return out, p.err()
}

// objectKeys returns the keys of a JSON object in the order they are
// written, a repeated key where it first stands (as a Ruby Hash keeps
// it); false when raw is not an
// object.
func objectKeys(raw json.RawMessage) ([]string, bool) {
	if jsonKind(raw) != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		k, isKey := t.(string)
		if err != nil || !isKey {
			return nil, false
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, true
}
