package backend

// The UAA's SCIM scopes (uaa ScimUserEndpoints): scim.read to read users,
// scim.write to create and delete them.
const (
	scopeSCIMRead  = "scim.read"
	scopeSCIMWrite = "scim.write"
)
