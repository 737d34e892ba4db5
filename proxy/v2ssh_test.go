package proxy

import (
	"fmt"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/configs"
)

// TestV2EnableSSHFollowsAllowAppSSHAccess: with the deployment's
// allow_app_ssh_access off, enable_ssh true is refused, admins included;
// on, a developer in a space that allows ssh may set it.
func TestV2EnableSSHFollowsAllowAppSSHAccess(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(fmt.Sprint("allow=", allow), func(t *testing.T) {
			s := startStack(t, func(c *configs.Config) { c.AllowAppSSHAccess = allow })
			for _, user := range []string{"admin", "developer"} {
				body := fmt.Sprintf(`{"name":"ssh-%s","space_guid":%q,"enable_ssh":true}`, user, backend.DemoSpaceGUID)
				r := s.do("POST", s.gwURL+"/v2/apps", user, []byte(body))
				switch {
				case allow && r.status != 201:
					t.Errorf("%s: %d %s", user, r.status, r.body)
				case !allow && (r.status != 400 || !strings.Contains(string(r.body), `"CF-InvalidRequest","code":10004`)):
					t.Errorf("%s with ssh off: %d %s", user, r.status, r.body)
				}
			}
		})
	}
}
