package v2api

// userRoutes are the routes of users and roles: /v2/users and the role
// lists and changes of organizations and spaces (MAPPING-orgs §11.5, §11.6).
func userRoutes() []Route {
	return nil
}
