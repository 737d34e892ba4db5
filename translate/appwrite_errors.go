package translate

// The v2 errors of app writes, with the names, codes, statuses and message
// formats of CC's errors/v2.yml (shared/reference/errors-v2.yml).

// MessageParseError is CC's 1001: "Request invalid due to parse error: %s".
func MessageParseError(detail string) *Error {
	return &Error{Status: 400, Code: 1001, Name: "MessageParseError", Description: "Request invalid due to parse error: " + detail}
}

// InvalidRequest is CC's 10004. Its format has no %s, so the argument CC
// passes ("enable_ssh must be false due to global allow_ssh setting") is
// never shown (MAPPING §2.2 step 3).
func InvalidRequest() *Error {
	return &Error{Status: 400, Code: 10004, Name: "InvalidRequest", Description: "The request is invalid"}
}

// AssociationNotEmpty is CC's 10006: "Please delete the %s associations for
// your %s.".
func AssociationNotEmpty(association, table string) *Error {
	return &Error{Status: 400, Code: 10006, Name: "AssociationNotEmpty",
		Description: "Please delete the " + association + " associations for your " + table + "."}
}

// UnprocessableEntity is CC's 10008 (422), whose message is its argument.
func UnprocessableEntity(detail string) *Error {
	return &Error{Status: 422, Code: 10008, Name: "UnprocessableEntity", Description: detail}
}

// AppInvalid is CC's 100001: "The app is invalid: %s".
func AppInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 100001, Name: "AppInvalid", Description: "The app is invalid: " + detail}
}

// StackValidationFailed is CC's 250004, answered 422 with the stack's
// validation message itself ("%s"): a stack the app may not use.
func StackValidationFailed(detail string) *Error {
	return &Error{Status: 422, Code: 250004, Name: "StackValidationFailed", Description: detail}
}

// AppNameTaken is CC's 100002, answered 400: "The app name is taken: %s".
func AppNameTaken(name string) *Error {
	return &Error{Status: 400, Code: 100002, Name: "AppNameTaken", Description: "The app name is taken: " + name}
}

// AppNotFound is CC's 100004: "The app could not be found: %s". A create
// names the space guid in it (MAPPING §2.2 step 2).
func AppNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 100004, Name: "AppNotFound", Description: "The app could not be found: " + guid}
}

// AppMemoryQuotaExceeded is CC's 100005: "You have exceeded your
// organization's memory limit: %s".
func AppMemoryQuotaExceeded(detail string) *Error {
	return &Error{Status: 400, Code: 100005, Name: "AppMemoryQuotaExceeded",
		Description: "You have exceeded your organization's memory limit: " + detail}
}

// AppMemoryInvalid is CC's 100006.
func AppMemoryInvalid() *Error {
	return &Error{Status: 400, Code: 100006, Name: "AppMemoryInvalid",
		Description: "You have specified an invalid amount of memory for your application."}
}

// QuotaInstanceMemoryLimitExceeded is CC's 100007.
func QuotaInstanceMemoryLimitExceeded() *Error {
	return &Error{Status: 400, Code: 100007, Name: "QuotaInstanceMemoryLimitExceeded",
		Description: "You have exceeded the instance memory limit for your organization's quota."}
}

// QuotaInstanceLimitExceeded is CC's 100008.
func QuotaInstanceLimitExceeded() *Error {
	return &Error{Status: 400, Code: 100008, Name: "QuotaInstanceLimitExceeded",
		Description: "You have exceeded the instance limit for your organization's quota."}
}

// AppMemoryInsufficientForSidecars is CC's 100009.
func AppMemoryInsufficientForSidecars() *Error {
	return &Error{Status: 400, Code: 100009, Name: "AppMemoryInsufficientForSidecars",
		Description: "The requested memory allocation is not large enough to run all of your sidecar processes."}
}

// OrgQuotaLogRateLimitExceeded is CC's 100010: "You have exceeded your
// organization's log rate limit: %s".
func OrgQuotaLogRateLimitExceeded(detail string) *Error {
	return &Error{Status: 400, Code: 100010, Name: "OrgQuotaLogRateLimitExceeded",
		Description: "You have exceeded your organization's log rate limit: " + detail}
}

// AppPackageInvalid is CC's 150001: "The app package is invalid: %s".
func AppPackageInvalid(detail string) *Error {
	return &Error{Status: 400, Code: 150001, Name: "AppPackageInvalid", Description: "The app package is invalid: " + detail}
}

// DockerImageMissing is CC's 150008.
func DockerImageMissing() *Error {
	return &Error{Status: 400, Code: 150008, Name: "DockerImageMissing",
		Description: "Docker credentials can only be supplied for apps with a 'docker_image'"}
}

// AppRecursiveDeleteFailed is CC's 150009 (502): "Deletion of app %s failed
// because one or more associated resources could not be deleted.\n\n%s".
func AppRecursiveDeleteFailed(name, detail string) *Error {
	return &Error{Status: 502, Code: 150009, Name: "AppRecursiveDeleteFailed",
		Description: "Deletion of app " + name + " failed because one or more associated resources could not be deleted.\n\n" + detail}
}

// StagingError is CC's 170001: "Staging error: %s".
func StagingError(detail string) *Error {
	return &Error{Status: 400, Code: 170001, Name: "StagingError", Description: "Staging error: " + detail}
}

// NotStaged is CC's 170002.
func NotStaged() *Error {
	return &Error{Status: 400, Code: 170002, Name: "NotStaged", Description: "App has not finished staging"}
}

// SpaceQuotaMemoryLimitExceeded is CC's 310003: "You have exceeded your
// space's memory limit: %s".
func SpaceQuotaMemoryLimitExceeded(detail string) *Error {
	return &Error{Status: 400, Code: 310003, Name: "SpaceQuotaMemoryLimitExceeded",
		Description: "You have exceeded your space's memory limit: " + detail}
}

// SpaceQuotaInstanceMemoryLimitExceeded is CC's 310004.
func SpaceQuotaInstanceMemoryLimitExceeded() *Error {
	return &Error{Status: 400, Code: 310004, Name: "SpaceQuotaInstanceMemoryLimitExceeded",
		Description: "You have exceeded the instance memory limit for your space's quota."}
}

// SpaceQuotaInstanceLimitExceeded is CC's 310008.
func SpaceQuotaInstanceLimitExceeded() *Error {
	return &Error{Status: 400, Code: 310008, Name: "SpaceQuotaInstanceLimitExceeded",
		Description: "You have exceeded the instance limit for your space's quota."}
}

// SpaceQuotaLogRateLimitExceeded is CC's 310011: "You have exceeded your
// space's log rate limit: %s".
func SpaceQuotaLogRateLimitExceeded(detail string) *Error {
	return &Error{Status: 400, Code: 310011, Name: "SpaceQuotaLogRateLimitExceeded",
		Description: "You have exceeded your space's log rate limit: " + detail}
}

// FeatureDisabled is CC's 330002 (403): "Feature Disabled: %s".
func FeatureDisabled(flag string) *Error {
	return &Error{Status: 403, Code: 330002, Name: "FeatureDisabled", Description: "Feature Disabled: " + flag}
}

// ScaleDisabledDuringDeployment is CC's 390016 (422).
func ScaleDisabledDuringDeployment() *Error {
	return &Error{Status: 422, Code: 390016, Name: "ScaleDisabledDuringDeployment",
		Description: "Cannot scale this process while a deployment is in flight."}
}

// ProcessUpdateDisabledDuringDeployment is CC's 390017 (422).
func ProcessUpdateDisabledDuringDeployment() *Error {
	return &Error{Status: 422, Code: 390017, Name: "ProcessUpdateDisabledDuringDeployment",
		Description: "Cannot update this process while a deployment is in flight."}
}

// StopDisabledDuringDeployment is CC's 390024 (422).
func StopDisabledDuringDeployment() *Error {
	return &Error{Status: 422, Code: 390024, Name: "StopDisabledDuringDeployment",
		Description: "Cannot stop the app while it is deploying, please cancel the deployment before stopping the app."}
}
