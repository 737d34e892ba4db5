package ccv3

import (
	"net/url"
	"strconv"

	"capibridge/translate"
)

// appPath is the path of an app's v3 sub-resource.
func appPath(appGUID, sub string) string {
	return "/v3/apps/" + url.PathEscape(appGUID) + sub
}

// WebProcess is GET /v3/apps/:guid/processes/web: a 404 means there is no
// such app, or it has no web process, which v2 cannot tell apart.
func (c *Client) WebProcess(call Call, appGUID string) (translate.V3Process, error) {
	var p translate.V3Process
	err := c.get(call, appPath(appGUID, "/processes/web"), "", "/v3/apps/:guid/*", &p)
	return p, err
}

// AppRoutes is GET /v3/apps/:guid/routes, every page of it.
func (c *Client) AppRoutes(call Call, appGUID string) ([]translate.V3Route, error) {
	var p Page[translate.V3Route]
	err := c.get(call, appPath(appGUID, "/routes"), "per_page="+strconv.Itoa(maxPerPage), "/v3/apps/:guid/*", &p)
	return p.Resources, err
}

// Domains lists every domain the user can see.
func (c *Client) Domains(call Call) ([]translate.V3Domain, error) {
	var p Page[translate.V3Domain]
	err := c.get(call, "/v3/domains", "per_page="+strconv.Itoa(maxPerPage), "/v3/domains", &p)
	return p.Resources, err
}

// AppBindings lists the app-type service credential bindings of the apps.
func (c *Client) AppBindings(call Call, appGUIDs []string) ([]translate.V3ServiceCredentialBinding, error) {
	return listBy[translate.V3ServiceCredentialBinding](c, call, "/v3/service_credential_bindings", "/v3/service_credential_bindings",
		"app_guids", appGUIDs, url.Values{"type": {"app"}})
}

// BindingDetails is GET /v3/service_credential_bindings/:guid/details; nil
// when the user may not read them (403, or 404 for a space auditor).
func (c *Client) BindingDetails(call Call, guid string) (*translate.V3BindingDetails, error) {
	var d translate.V3BindingDetails
	err := c.get(call, "/v3/service_credential_bindings/"+url.PathEscape(guid)+"/details", "", "/v3/service_credential_bindings/:guid/*", &d)
	if e, ok := err.(*Error); ok && (e.Status == 403 || e.Status == 404) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// AppEnv is GET /v3/apps/:guid/env.
func (c *Client) AppEnv(call Call, appGUID string) (translate.V3AppEnv, error) {
	var e translate.V3AppEnv
	err := c.get(call, appPath(appGUID, "/env"), "", "/v3/apps/:guid/*", &e)
	return e, err
}

// AppPermissions is GET /v3/apps/:guid/permissions.
func (c *Client) AppPermissions(call Call, appGUID string) (translate.V3AppPermissions, error) {
	var p translate.V3AppPermissions
	err := c.get(call, appPath(appGUID, "/permissions"), "", "/v3/apps/:guid/*", &p)
	return p, err
}
