package backend

// placementRoutes lists the routes of security groups, isolation segments
// and the organization and space relationships to them, and usage summaries.
func (s *Server) placementRoutes(p func(string) []string) []route {
	return nil
}
