package backend

// userRoleRoutes lists the routes of users (/v3/users) and roles (/v3/roles).
func (s *Server) userRoleRoutes(p func(string) []string) []route {
	return nil
}
