package backend

// adminRoutes lists the routes of the admin resources: buildpacks, feature flag updates, environment variable groups, app usage events, security groups, isolation segments.
func (s *Server) adminRoutes(p func(string) []string) []route {
	return nil
}
