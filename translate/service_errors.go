package translate

import (
	"strings"
)

// serviceErrors are the v2 errors of the service endpoints, by name, as
// CC's errors/v2.yml declares them (shared/reference/errors-v2.yml): the
// http status, the code, and the message, whose %s is the argument.
var serviceErrors = map[string]struct {
	status, code int
	format       string
}{
	"ServiceInstanceNameEmpty":                   {400, 60001, "Service instance name is required."},
	"ServiceInstanceNameTaken":                   {400, 60002, "The service instance name is taken: %s"},
	"ServiceInstanceInvalid":                     {400, 60003, "The service instance is invalid: %s"},
	"ServiceInstanceNotFound":                    {404, 60004, "The service instance could not be found: %s"},
	"ServiceInstanceQuotaExceeded":               {400, 60005, "You have exceeded your organization's services limit."},
	"ServiceInstanceServicePlanNotAllowed":       {400, 60007, "The service instance cannot be created because paid service plans are not allowed."},
	"ServiceInstanceNameTooLong":                 {400, 60009, "You have requested an invalid service instance name. Names are limited to 255 characters."},
	"ServiceInstanceSpaceQuotaExceeded":          {400, 60012, "You have exceeded your space's services limit."},
	"ServiceInstanceSpaceChangeNotAllowed":       {400, 60014, "Cannot update space for service instance."},
	"ServiceInstanceTagsTooLong":                 {400, 60015, "Combined length of tags for service %s must be 2048 characters or less."},
	"AsyncServiceInstanceOperationInProgress":    {409, 60016, "An operation for service instance %s is in progress."},
	"ServiceInstanceRouteServiceURLInvalid":      {400, 60019, "The route service URL is invalid: %s"},
	"ManagedServiceInstanceNotFound":             {404, 60028, "The service instance could not be found: %s"},
	"ServiceBindingAppServiceTaken":              {400, 90003, "%s"},
	"ServiceBindingNotFound":                     {404, 90004, "The service binding could not be found: %s"},
	"UnbindableService":                          {400, 90005, "The service instance doesn't support binding."},
	"ServiceFetchBindingParametersNotSupported":  {400, 90007, "This service does not support fetching service binding parameters."},
	"AsyncServiceBindingOperationInProgress":     {409, 90008, "An operation for the service binding between app %s and service instance %s is in progress."},
	"ServiceDoesNotSupportRoutes":                {400, 130006, "This service does not support route binding."},
	"RouteAlreadyBoundToServiceInstance":         {400, 130007, "A route may only be bound to a single service instance"},
	"ServiceInstanceAlreadyBoundToSameRoute":     {400, 130008, "The route and service instance are already bound."},
	"RouteServiceCannotBeBoundToInternalRoute":   {400, 130010, "Route services cannot be bound to internal routes."},
	"ServiceInstanceRouteBindingSpaceMismatch":   {400, 60017, "The service instance and the route are in different spaces."},
	"ServicePlanNotFound":                        {404, 110003, "The service plan could not be found: %s"},
	"ServicePlanNotUpdateable":                   {400, 110004, "The service plan cannot be updated."},
	"ServiceNotFound":                            {404, 120003, "The service could not be found: %s"},
	"ServiceFetchInstanceParametersNotSupported": {400, 120004, "This service does not support fetching service instance parameters."},
	"ServiceBrokerNotFound":                      {404, 270004, "The service broker was not found: %s"},
	"ServicePlanVisibilityNotFound":              {404, 260003, "The service plan visibility could not be found: %s"},
	"UserProvidedServiceInstanceNotFound":        {404, 340001, "The service instance could not be found: %s"},
	"UserProvidedServiceInstanceHandlerNeeded":   {400, 340002, "Please use the User Provided Services API to manage this resource."},
	"ServiceKeyNameTaken":                        {400, 360001, "The service key name is taken: %s"},
	"ServiceKeyInvalid":                          {400, 360002, "The service key is invalid: %s"},
	"ServiceKeyNotFound":                         {404, 360003, "The service key could not be found: %s"},
	"ServiceKeyNotSupported":                     {400, 360004, "%s"},
	"SharedServiceInstanceCannotBeRenamed":       {422, 390003, "Service instances that have been shared cannot be renamed"},
}

// ServiceError is the named v2 service error with its argument.
func ServiceError(name, arg string) *Error {
	e, ok := serviceErrors[name]
	if !ok {
		return &Error{Status: 500, Code: 10001, Name: "UnknownError", Description: "An unknown error occurred."}
	}
	return &Error{Status: e.status, Code: e.code, Name: name, Description: strings.Replace(e.format, "%s", arg, 1)}
}

// InstanceWriteError maps a v3 refusal of a service instance write to CC's
// v2 error (§10.10); name is the instance's name. nil: not an instance
// refusal this table knows.
func InstanceWriteError(status int, title, detail, name string) *Error {
	has := func(s string) bool { return strings.Contains(detail, s) }
	switch {
	case status == 403 && title == "CF-FeatureDisabled":
		return &Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: detail}
	case status == 403:
		return NotAuthorized()
	case status == 400 && title == "CF-InvalidRelation":
		// "service plan relates to a different service offering" (§10.10).
		return InvalidRelation("Plan")
	case status != 422:
		return nil
	case has("The service instance name is taken"), has("name must be unique in space"):
		return ServiceError("ServiceInstanceNameTaken", name)
	case has("Invalid space."):
		return ServiceError("ServiceInstanceInvalid", "not a valid space")
	case has("Invalid service plan."):
		return ServiceError("ServiceInstanceInvalid", "not a valid service plan")
	case has("exceeded your organization's services limit"):
		return ServiceError("ServiceInstanceQuotaExceeded", "")
	case has("exceeded your space's services limit"):
		return ServiceError("ServiceInstanceSpaceQuotaExceeded", "")
	case has("paid service plans are not allowed for your space"):
		return &Error{Status: 400, Code: 60013, Name: "ServiceInstanceServicePlanNotAllowedBySpaceQuota", Description: detail}
	case has("paid service plans are not allowed"):
		return ServiceError("ServiceInstanceServicePlanNotAllowed", "")
	case has("have been shared cannot be renamed"):
		return ServiceError("SharedServiceInstanceCannotBeRenamed", "")
	case has("does not support changing plans"):
		return ServiceError("ServicePlanNotUpdateable", "")
	case has("operation in progress for the service instance"):
		return ServiceError("AsyncServiceInstanceOperationInProgress", name)
	}
	return ServiceError("ServiceInstanceInvalid", detail)
}

// BindingCreateError maps a v3 refusal of an app binding create (§10.10).
func BindingCreateError(status int, title, detail, appGUID, instanceGUID string) *Error {
	has := func(s string) bool { return strings.Contains(detail, s) }
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case has("The app could not be found"):
		return &Error{Status: 404, Code: 100004, Name: "AppNotFound", Description: "The app could not be found: " + appGUID}
	case has("The service instance could not be found"):
		return ServiceError("ServiceInstanceNotFound", instanceGUID)
	case has("already bound to the service instance"), has("already a binding in progress"):
		return ServiceError("ServiceBindingAppServiceTaken", "The app is already bound to the service.")
	case has("in different spaces"):
		return ServiceError("ServiceBindingAppServiceTaken", "VCAP::CloudController::ServiceBindingCreate::SpaceMismatch")
	case has("does not allow bindings"):
		return ServiceError("UnbindableService", "")
	case has("The binding name is invalid."):
		return ServiceError("ServiceBindingAppServiceTaken", detail[strings.Index(detail, "The binding name is invalid."):])
	case has("operation in progress for the service instance"):
		return ServiceError("AsyncServiceInstanceOperationInProgress", instanceGUID)
	}
	return &Error{Status: 400, Code: 90001, Name: "ServiceBindingInvalid", Description: "The service binding is invalid: " + detail}
}

// KeyCreateError maps a v3 refusal of a key create (§10.10).
func KeyCreateError(status int, title, detail, name, instanceGUID string) *Error {
	has := func(s string) bool { return strings.Contains(detail, s) }
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case has("not supported for user-provided service instances"):
		return ServiceError("ServiceKeyNotSupported", "Service keys are not supported for user-provided service instances.")
	case has("does not allow bindings"):
		return ServiceError("ServiceKeyNotSupported", "This service doesn't support creation of keys.")
	case has("Key binding names must be unique"), has("already has a key binding with name"):
		return ServiceError("ServiceKeyNameTaken", name)
	case has("The service instance could not be found"):
		return ServiceError("ServiceInstanceNotFound", instanceGUID)
	case has("space's limit for service binding of type key"):
		return ServiceError("ServiceKeyInvalid", "quota service_keys_space_quota_exceeded")
	case has("limit for service binding of type key"):
		return ServiceError("ServiceKeyInvalid", "quota service_keys_quota_exceeded")
	case has("operation in progress for the service instance"):
		return ServiceError("AsyncServiceInstanceOperationInProgress", instanceGUID)
	}
	return ServiceError("ServiceKeyInvalid", detail)
}

// RouteBindingError maps a v3 refusal of POST /v3/service_route_bindings
// to CC's v2 error (cc:app/actions/service_route_binding_create.rb's texts;
// MAPPING-services §10.3.7).
func RouteBindingError(status int, detail string) *Error {
	has := func(s string) bool { return strings.Contains(detail, s) }
	switch {
	case status == 403:
		return NotAuthorized()
	case status != 422:
		return nil
	case has("cannot be bound to internal routes"):
		return ServiceError("RouteServiceCannotBeBoundToInternalRoute", "")
	case has("are already bound"):
		return ServiceError("ServiceInstanceAlreadyBoundToSameRoute", "")
	case has("may only be bound to a single service instance"):
		return ServiceError("RouteAlreadyBoundToServiceInstance", "")
	case has("does not support route binding"):
		return ServiceError("ServiceDoesNotSupportRoutes", "")
	case has("does not support binding"):
		return ServiceError("UnbindableService", "")
	case has("in different spaces"):
		return ServiceError("ServiceInstanceRouteBindingSpaceMismatch", "")
	case has("operation in progress for the service instance"):
		return ServiceError("AsyncServiceInstanceOperationInProgress", "")
	}
	return ServiceError("ServiceInstanceInvalid", detail)
}

// NotAuthorized is CC's 10003.
func NotAuthorized() *Error {
	return &Error{Status: 403, Code: 10003, Name: "NotAuthorized", Description: "You are not authorized to perform the requested action"}
}
