package backend

// spaceQuotaRoutes lists the routes of space quotas (/v3/space_quotas).
func (s *Server) spaceQuotaRoutes(p func(string) []string) []route {
	return nil
}
