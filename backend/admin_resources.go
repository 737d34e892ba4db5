package backend

// adminRoutes lists the routes of the admin resources: buildpacks, feature flag updates, environment variable groups and app usage events.
func (s *Server) adminRoutes(p func(string) []string) []route {
	return nil
}
