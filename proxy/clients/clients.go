// Package clients attributes a v2 request to the client program that sent
// it, from its User-Agent header alone. The result labels the
// capibridge_v2_requests_total counter and feeds the per-user usage report,
// so it has a closed set of families and a short, sanitized version.
//
// Each rule rests on what the client itself sends:
//
//   - cf CLI, newer code: api/cloudcontroller/ccv2/client.go (NewClient) in
//     the cf CLI repository builds "%s/%s (%s; %s %s)" from Config.AppName,
//     Config.AppVersion, runtime.Version(), GOARCH and GOOS. The CLI fills
//     AppName with config.BinaryName(), which util/configv3/load_config.go
//     sets to filepath.Base(os.Args[0]), and AppVersion with
//     version.VersionString() (version/version.go: semver plus "+sha.date"
//     build metadata). So "cf/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; amd64
//     linux)", and "cf7/…", "cf8/…" or "cf.exe/…" when the binary is
//     installed under that name; the project's own traces show "cf653/6.53.0".
//     cf CLI v7 and v8 build the same string in
//     api/cloudcontroller/ccv3/requester.go (NewRequester).
//   - cf CLI, legacy code: cf/net/gateway.go (NewRequest) sets
//     "go-cli " + version.VersionString() + " / " + runtime.GOOS. That file
//     is still in the v7 and v8 trees. These requests get Legacy true.
//   - ccv2 as a library: any other program using the ccv2 client sends the
//     same "%s/%s (%s; %s %s)" shape with its own AppName.
//   - Terraform provider v0.x (cloudfoundry-community/
//     terraform-provider-cloudfoundry, cloudfoundry/managers/session.go) is
//     such a program: it sets BinaryName "terraform-provider" and passes
//     config.BinaryVersion(), which outside the CLI build is the library
//     default "0.0.0-unknown-version". It is recognisable only by that app
//     name, so a ccv2 app name containing "terraform" gives FamilyTerraform.
//     The placeholder is not the provider's version and gives "", as it
//     does for every family.
//   - go-cfclient: client.go DefaultConfig sets "Go-CF-client/1.1" in the
//     v2-era releases (v0.0.0-20220930021109-9c4e6c59ccf1 included); later
//     lines send "Go-CF-client/2.0" and, in v3's config package,
//     "Go-CF-Client/3.0", so the prefix is matched without regard to case.
//     The number is a fixed mark of the line, not the release.
//   - cf-java-client: cloudfoundry-client-reactor/src/main/java/org/
//     cloudfoundry/reactor/util/UserAgent.java sets "CloudFoundryJavaClient/%s
//     (Java; %s/%s) ReactorNetty/%s (Netty/%s)", the version being
//     "unknown" when the jar manifest has none.
//   - cloudfoundry-client (PyPI): cloudfoundry_client/client.py sends the
//     user_agent argument, default "cf-python-client", since v1.34.0. Older
//     releases send requests' "python-requests/x.y", which any Python
//     program sends too, so those go to FamilyOther.
//   - cf-nodejs-client (npm, 0.13.0) and cf-client (npm, 0.13.26, a fork
//     with the same lib/utils/HttpUtils.js) send nothing of their own: their
//     calls go through request@2.67.0, which sets no User-Agent, and only
//     Apps.upload goes through restler@3.4.0, which sends
//     "Restler for node.js". An empty header goes to FamilyOther. Restler is
//     counted as FamilyCfNodejsClient, the original package, since the two
//     cannot be told apart and restler is otherwise rare on the v2 API.
//     FamilyCfClient is kept as a label so the set stays stable should
//     cf-client ever identify itself.
//   - Defaults of HTTP libraries that many programs share, such as
//     "Go-http-client/1.1" (the cf CLI's own log streaming), "fasthttp",
//     "python-requests/2.31.0", "axios/1.6.2", "node-fetch" or bare
//     "ReactorNetty/1.1.13", say nothing about the program and go to
//     FamilyOther.
//   - curl sends "curl/<version>"; browsers send "Mozilla/5.0 (…)", as do a
//     few crawlers, which are counted as FamilyBrowser.
//
// Matching is by ASCII prefix, ignoring case, and the ccv2 shape is only
// looked for in headers of at most 256 bytes, so a long or hostile header
// costs little. Version is the client's version token up to the first byte
// outside [0-9A-Za-z._-] (which drops "+" build metadata and any non-ASCII),
// at most MaxVersionLen bytes; "unknown" and "0.0.0-unknown-version" give "".
package clients

import "bytes"

// Family is a client family, used as a Prometheus label value. Parse returns
// only the values listed by Families.
type Family string

// The families Parse tells apart. The values are label values, so they never
// change once released.
const (
	// FamilyCfCLI is the cf CLI, any version, either code path.
	FamilyCfCLI Family = "cf_cli"
	// FamilyGoCfclient is github.com/cloudfoundry-community/go-cfclient.
	FamilyGoCfclient Family = "go_cfclient"
	// FamilyCCv2 is the cf CLI's api/cloudcontroller library used by a
	// program other than the cf CLI.
	FamilyCCv2 Family = "ccv2"
	// FamilyTerraform is the Terraform provider for Cloud Foundry v0.x,
	// which uses the ccv2 library with its own app name.
	FamilyTerraform Family = "terraform"
	// FamilyCfNodejsClient is the npm package cf-nodejs-client, and its
	// fork cf-client, which sends the same header.
	FamilyCfNodejsClient Family = "cf_nodejs_client"
	// FamilyCfClient is the npm package cf-client. Its requests cannot be
	// told from cf-nodejs-client's today; see the package comment.
	FamilyCfClient Family = "cf_client"
	// FamilyCfJavaClient is cloudfoundry/cf-java-client.
	FamilyCfJavaClient Family = "cf_java_client"
	// FamilyPythonCloudfoundryClient is the PyPI package
	// cloudfoundry-client.
	FamilyPythonCloudfoundryClient Family = "python_cloudfoundry_client"
	// FamilyCurl is the curl command line tool.
	FamilyCurl Family = "curl"
	// FamilyBrowser is a web browser.
	FamilyBrowser Family = "browser"
	// FamilyOther is everything else, an empty or missing header included.
	FamilyOther Family = "other"
)

// families is the closed set, in the order Families reports it.
var families = [...]Family{
	FamilyCfCLI,
	FamilyGoCfclient,
	FamilyCCv2,
	FamilyTerraform,
	FamilyCfNodejsClient,
	FamilyCfClient,
	FamilyCfJavaClient,
	FamilyPythonCloudfoundryClient,
	FamilyCurl,
	FamilyBrowser,
	FamilyOther,
}

// Families returns every Family value, so a counter can pre-declare its
// label values. The caller may modify the returned slice.
func Families() []Family {
	out := make([]Family, len(families))
	copy(out, families[:])
	return out
}

// Client is what a User-Agent header says about the program that sent it.
type Client struct {
	// Family is the client family, always one of Families.
	Family Family
	// Version is the client's own version where the header carries it,
	// without build metadata, at most MaxVersionLen bytes of
	// [0-9A-Za-z._-], else "".
	Version string
	// Legacy is true when the cf CLI ran the command on its legacy code
	// (cf/net), which sends "go-cli <version> / <os>".
	Legacy bool
}

// MaxVersionLen bounds Client.Version, which is shown in reports.
const MaxVersionLen = 32

// ccv2Scan bounds how far Parse looks for the "name/version (go…" shape.
// The cf CLI's header is under 80 bytes; a long header is not from it.
const ccv2Scan = 256

// Parse attributes a User-Agent header value to a client. It never fails:
// anything it does not recognise is FamilyOther. It runs on every v2 request,
// so it uses no regexp and does not allocate for a version it has returned
// before. A new version costs the string plus, for the first maxInterned
// distinct versions in the process, a copy of the intern table (see
// internTable); once the table is full, a new version costs the string alone.
func Parse(ua []byte) Client {
	switch {
	case len(ua) == 0:
		return Client{Family: FamilyOther}
	case hasPrefixFold(ua, "go-cli "):
		return Client{Family: FamilyCfCLI, Version: version(ua[len("go-cli "):]), Legacy: true}
	case hasPrefixFold(ua, "go-cf-client/"):
		return Client{Family: FamilyGoCfclient, Version: version(ua[len("go-cf-client/"):])}
	case hasPrefixFold(ua, "cloudfoundryjavaclient/"):
		return Client{Family: FamilyCfJavaClient, Version: version(ua[len("cloudfoundryjavaclient/"):])}
	case hasPrefixFold(ua, "cf-python-client"):
		return Client{Family: FamilyPythonCloudfoundryClient}
	case hasPrefixFold(ua, "restler for node.js"):
		return Client{Family: FamilyCfNodejsClient}
	case hasPrefixFold(ua, "curl/"):
		return Client{Family: FamilyCurl, Version: version(ua[len("curl/"):])}
	case hasPrefixFold(ua, "mozilla/"), hasPrefixFold(ua, "opera/"):
		return Client{Family: FamilyBrowser}
	}
	if name, ver, ok := splitCCv2(ua); ok {
		switch {
		case isCfBinary(name):
			return Client{Family: FamilyCfCLI, Version: version(ver)}
		case containsFold(name, "terraform"):
			return Client{Family: FamilyTerraform, Version: version(ver)}
		default:
			return Client{Family: FamilyCCv2, Version: version(ver)}
		}
	}
	return Client{Family: FamilyOther}
}

// splitCCv2 recognises "name/version (go1.13.8; amd64 linux)", the shape
// ccv2.NewClient and ccv3.NewRequester build, and returns name and version.
// runtime.Version() is "go1.x" for releases and "devel …" for tip builds.
func splitCCv2(ua []byte) (name, ver []byte, ok bool) {
	if len(ua) > ccv2Scan || ua[len(ua)-1] != ')' {
		return nil, nil, false
	}
	open := bytes.Index(ua, parenOpen)
	if open < 0 {
		return nil, nil, false
	}
	rest := ua[open+2:]
	goVersion := len(rest) > 2 && rest[0] == 'g' && rest[1] == 'o' && isDigit(rest[2])
	if !goVersion && !hasPrefixFold(rest, "devel ") {
		return nil, nil, false
	}
	if bytes.IndexByte(rest, ';') < 0 {
		return nil, nil, false
	}
	head := ua[:open]
	slash := bytes.LastIndexByte(head, '/')
	if slash <= 0 || slash == len(head)-1 {
		return nil, nil, false
	}
	return head[:slash], head[slash+1:], true
}

// parenOpen separates "name/version" from the Go runtime details.
var parenOpen = []byte(" (")

// isCfBinary reports whether a ccv2 app name is the cf CLI's binary name:
// "cf", or "cf" with a major version ("cf7", "cf8", Homebrew's names, and
// "cf653" in this project's traces), with an optional ".exe" on Windows.
func isCfBinary(name []byte) bool {
	if len(name) >= 4 && hasSuffixFold(name, ".exe") {
		name = name[:len(name)-4]
	}
	if len(name) < 2 || lower(name[0]) != 'c' || lower(name[1]) != 'f' {
		return false
	}
	for _, c := range name[2:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// version returns the leading version token of b: it ends at the first byte
// outside [0-9A-Za-z._-], so build metadata after "+" and anything that is
// not ASCII are cut, and it is capped at MaxVersionLen. The placeholders
// clients send when they do not know their version give "".
func version(b []byte) string {
	n := 0
	for n < len(b) && n < MaxVersionLen && isVersionByte(b[n]) {
		n++
	}
	v := b[:n]
	if len(v) == 0 || equalFold(v, "unknown") || equalFold(v, "0.0.0-unknown-version") {
		return ""
	}
	return versions.intern(v)
}

// isVersionByte reports whether c may appear in a Version. "+" starts semver
// build metadata, which Version drops, so it ends the token like any other
// byte outside the alphabet.
func isVersionByte(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '.' || c == '-' || c == '_'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lower folds ASCII upper case; other bytes pass unchanged.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold compares b with the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && hasPrefixFold(b, s)
}

// hasPrefixFold reports whether b starts with the lower-case ASCII string s,
// ignoring case. bytes.HasPrefix with bytes.ToLower would allocate.
func hasPrefixFold(b []byte, s string) bool {
	if len(b) < len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// hasSuffixFold reports whether b ends with the lower-case ASCII string s,
// ignoring case.
func hasSuffixFold(b []byte, s string) bool {
	return len(b) >= len(s) && hasPrefixFold(b[len(b)-len(s):], s)
}

// containsFold reports whether b contains the lower-case ASCII string s,
// ignoring case. b is a short app name, so the naive scan is enough.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if hasPrefixFold(b[i:], s) {
			return true
		}
	}
	return false
}
