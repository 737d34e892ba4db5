package clients

import (
	"strings"
	"testing"
)

// parseCases are the User-Agent values the gateway is known to receive. The
// source of each is in its name or comment; the package comment has the
// code each format comes from.
var parseCases = []struct {
	name string
	ua   string
	want Client
}{
	// cf CLI v6 traces recorded against the gateway (/work/clients
	// trace637-*.log and trace653-*.log), binaries built as cf637 and cf653.
	{"trace cf653 ccv2", "cf653/6.53.0 (go1.26.8; amd64 linux)", Client{FamilyCfCLI, "6.53.0", false}},
	{"trace cf637 ccv2", "cf637/6.37.0 (go1.26.8; amd64 linux)", Client{FamilyCfCLI, "6.37.0", false}},
	{"trace cf653 legacy", "go-cli 6.53.0 / linux", Client{FamilyCfCLI, "6.53.0", true}},
	{"trace cf637 legacy", "go-cli 6.37.0 / linux", Client{FamilyCfCLI, "6.37.0", true}},
	// The cf CLI's log streaming (noaa websocket) in the same traces.
	{"trace go http client", "Go-http-client/1.1", Client{FamilyOther, "", false}},

	// proxy/passthrough_test.go.
	{"passthrough test cf", "cf/6.53.0+8e2b70a.2020-10-01 (go1.13.15; amd64 linux)", Client{FamilyCfCLI, "6.53.0", false}},
	// fasthttp's default, sent by test clients that do not set one
	// (fasthttp client.go, defaultUserAgent).
	{"fasthttp default", "fasthttp", Client{FamilyOther, "", false}},
	// proxy/cfclient_test.go drives go-cfclient, client.go DefaultConfig.
	{"go-cfclient v2 era", "Go-CF-client/1.1", Client{FamilyGoCfclient, "1.1", false}},

	// cf CLI release builds: version/version.go adds "+sha.date".
	{"cf 6.53 release", "cf/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; amd64 linux)", Client{FamilyCfCLI, "6.53.0", false}},
	{"cf 6.53 legacy release", "go-cli 6.53.0+8e2b70a4a.2020-10-01 / linux", Client{FamilyCfCLI, "6.53.0", true}},
	{"cf windows", "cf.exe/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; amd64 windows)", Client{FamilyCfCLI, "6.53.0", false}},
	{"cf windows upper case", "CF.EXE/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; 386 windows)", Client{FamilyCfCLI, "6.53.0", false}},
	{"cf legacy windows", "go-cli 6.53.0+8e2b70a4a.2020-10-01 / windows", Client{FamilyCfCLI, "6.53.0", true}},
	{"cf7 homebrew", "cf7/7.2.0+be4a5ce2b.2020-12-10 (go1.13.15; amd64 darwin)", Client{FamilyCfCLI, "7.2.0", false}},
	{"cf8", "cf8/8.7.10+5b7ce3c.2024-04-04 (go1.21.5; arm64 darwin)", Client{FamilyCfCLI, "8.7.10", false}},
	{"cf8 as cf", "cf/8.18.4+0a1b2c3.2025-01-01 (go1.23.4; amd64 linux)", Client{FamilyCfCLI, "8.18.4", false}},
	{"cf8 legacy", "go-cli 8.18.4+0a1b2c3.2025-01-01 / darwin", Client{FamilyCfCLI, "8.18.4", true}},
	{"cf prerelease", "cf/7.0.0-beta.30+1a2b3c4.2020-01-22 (go1.13.4; amd64 linux)", Client{FamilyCfCLI, "7.0.0-beta.30", false}},
	{"cf dev build", "cf/0.0.0-unknown-version (go1.22.1; amd64 linux)", Client{FamilyCfCLI, "", false}},
	{"cf dev build legacy", "go-cli 0.0.0-unknown-version / linux", Client{FamilyCfCLI, "", true}},
	{"cf go tip", "cf/6.53.0 (devel go1.23-4f3a2b1 Tue Jan 2 2024; amd64 linux)", Client{FamilyCfCLI, "6.53.0", false}},

	// ccv2 as a library.
	{"ccv2 own test", "CF CLI API V2 Test/Unknown (go1.13.8; amd64 linux)", Client{FamilyCCv2, "", false}},
	{"ccv2 other program", "service-broker-tool/1.2.3 (go1.20.4; amd64 linux)", Client{FamilyCCv2, "1.2.3", false}},
	{"ccv2 name like cf", "cfx/1.0.0 (go1.20.4; amd64 linux)", Client{FamilyCCv2, "1.0.0", false}},
	// terraform-provider-cloudfoundry cloudfoundry/managers/session.go.
	{"terraform provider", "terraform-provider/0.0.0-unknown-version (go1.16.15; amd64 linux)", Client{FamilyTerraform, "", false}},
	{"terraform provider named", "terraform-provider-cloudfoundry/0.15.5 (go1.19.3; amd64 darwin)", Client{FamilyTerraform, "0.15.5", false}},
	{"terraform provider upper case", "Terraform-Provider/0.0.0-unknown-version (go1.16.15; arm64 darwin)", Client{FamilyTerraform, "", false}},

	// go-cfclient later lines.
	{"go-cfclient 2.0", "Go-CF-client/2.0", Client{FamilyGoCfclient, "2.0", false}},
	{"go-cfclient v3", "Go-CF-Client/3.0", Client{FamilyGoCfclient, "3.0", false}},

	// cf-java-client UserAgent.java.
	{"cf-java-client", "CloudFoundryJavaClient/5.12.0.RELEASE (Java; Eclipse Adoptium/17.0.9) ReactorNetty/1.1.13 (Netty/4.1.101.Final)", Client{FamilyCfJavaClient, "5.12.0.RELEASE", false}},
	{"cf-java-client no manifest", "CloudFoundryJavaClient/unknown (Java; Oracle Corporation/1.8.0_162) ReactorNetty/unknown (Netty/unknown)", Client{FamilyCfJavaClient, "", false}},
	{"reactor-netty default", "ReactorNetty/1.1.13", Client{FamilyOther, "", false}},

	// cloudfoundry-client (PyPI) client.py, and requests' default before
	// v1.34.0.
	{"python client", "cf-python-client", Client{FamilyPythonCloudfoundryClient, "", false}},
	{"python requests", "python-requests/2.31.0", Client{FamilyOther, "", false}},

	// cf-nodejs-client and cf-client: restler@3.4.0 for uploads, no header
	// from request@2.67.0 otherwise.
	{"node restler", "Restler for node.js", Client{FamilyCfNodejsClient, "", false}},
	{"node request", "", Client{FamilyOther, "", false}},
	{"node axios", "axios/1.6.2", Client{FamilyOther, "", false}},
	{"node-fetch", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", Client{FamilyOther, "", false}},
	{"node undici", "undici", Client{FamilyOther, "", false}},

	{"curl", "curl/8.5.0", Client{FamilyCurl, "8.5.0", false}},
	{"curl old", "curl/7.29.0", Client{FamilyCurl, "7.29.0", false}},
	{"curl upper case", "CURL/8.5.0", Client{FamilyCurl, "8.5.0", false}},
	{"curl markup", "curl/8.5.0<script>alert(1)</script>", Client{FamilyCurl, "8.5.0", false}},

	{"firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", Client{FamilyBrowser, "", false}},
	{"chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", Client{FamilyBrowser, "", false}},
	{"safari", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15", Client{FamilyBrowser, "", false}},
	{"edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", Client{FamilyBrowser, "", false}},
	{"opera presto", "Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.18", Client{FamilyBrowser, "", false}},

	{"garbage", "\x00\x01)(;/", Client{FamilyOther, "", false}},
	{"only slash", "/", Client{FamilyOther, "", false}},
	{"ccv2 shape without name", "/1.0 (go1.2; amd64 linux)", Client{FamilyOther, "", false}},
	{"ccv2 shape without version", "cf/ (go1.2; amd64 linux)", Client{FamilyOther, "", false}},
	{"ccv2 shape without go", "cf/6.53.0 (Java; x)", Client{FamilyOther, "", false}},
	{"ccv2 shape unterminated", "cf/6.53.0 (go1.13.8; amd64 linux", Client{FamilyOther, "", false}},
	{"space", " ", Client{FamilyOther, "", false}},
	{"10 KB", strings.Repeat("a", 10<<10), Client{FamilyOther, "", false}},
	{"10 KB after cf prefix", "cf/6.53.0 (go1.13.8; amd64 linux" + strings.Repeat("x", 10<<10) + ")", Client{FamilyOther, "", false}},
	{"10 KB legacy version", "go-cli " + strings.Repeat("9", 10<<10), Client{FamilyCfCLI, strings.Repeat("9", MaxVersionLen), true}},
	{"10 KB curl", "curl/" + strings.Repeat("1.", 5<<10), Client{FamilyCurl, strings.Repeat("1.", MaxVersionLen/2), false}},
	{"non-UTF-8 version", "go-cli 6.53.0\xff\xfe / linux", Client{FamilyCfCLI, "6.53.0", true}},
	{"non-UTF-8 curl", "curl/8\xc3\x28", Client{FamilyCurl, "8", false}},
	{"non-UTF-8 only", "\xff\xfe\xfd", Client{FamilyOther, "", false}},
	{"non-UTF-8 app name", "\xff\xfe/1.0 (go1.2; amd64 linux)", Client{FamilyCCv2, "1.0", false}},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Parse([]byte(tc.ua)); got != tc.want {
				t.Errorf("Parse(%.80q) = %+v, want %+v", tc.ua, got, tc.want)
			}
		})
	}
}

func TestFamilies(t *testing.T) {
	t.Parallel()
	got := Families()
	if len(got) != 11 {
		t.Fatalf("Families() has %d values, want 11", len(got))
	}
	seen := make(map[Family]bool)
	for _, f := range got {
		if seen[f] {
			t.Errorf("Families() repeats %q", f)
		}
		seen[f] = true
		if f == "" || strings.Trim(string(f), "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("Families() value %q is not a lower-case snake_case label ([a-z0-9_])", f)
		}
	}
	got[0] = "changed"
	if Families()[0] != FamilyCfCLI {
		t.Error("Families() returned its own array, not a copy")
	}
}

// TestParseAllocs holds Parse to its hot-path budget: at most the Version
// string, and nothing once that version has been seen.
func TestParseAllocs(t *testing.T) {
	for _, tc := range parseCases {
		ua := []byte(tc.ua)
		if n := testing.AllocsPerRun(100, func() { Parse(ua) }); n > 1 {
			t.Errorf("Parse(%.80q) allocates %v times, want at most 1", tc.ua, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	uas := [][]byte{
		[]byte("cf/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; amd64 linux)"),
		[]byte("go-cli 6.53.0+8e2b70a4a.2020-10-01 / linux"),
		[]byte("Go-CF-client/1.1"),
		[]byte("terraform-provider/0.0.0-unknown-version (go1.16.15; amd64 linux)"),
		[]byte("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
		[]byte(""),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Parse(uas[i%len(uas)])
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.ua))
	}
	valid := make(map[Family]bool)
	for _, fam := range Families() {
		valid[fam] = true
	}
	f.Fuzz(func(t *testing.T, ua []byte) {
		c := Parse(ua)
		if !valid[c.Family] {
			t.Fatalf("Parse(%q).Family = %q, not in Families()", ua, c.Family)
		}
		if len(c.Version) > MaxVersionLen {
			t.Fatalf("Parse(%q).Version is %d bytes, want at most %d", ua, len(c.Version), MaxVersionLen)
		}
		if strings.Trim(c.Version, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.+-_") != "" {
			t.Fatalf("Parse(%q).Version = %q has bytes outside [0-9A-Za-z.+-_]", ua, c.Version)
		}
		if c.Legacy && c.Family != FamilyCfCLI {
			t.Fatalf("Parse(%q) = %+v: Legacy outside the cf CLI", ua, c)
		}
	})
}
