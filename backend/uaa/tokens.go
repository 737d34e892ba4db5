package uaa

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// The values UAA puts in every token of its default zone.
const (
	// ZoneID is the zid of UAA's default identity zone.
	ZoneID = "uaa"
	// Origin is the origin of users kept in UAA's own database.
	Origin = "uaa"
	// RefreshSuffix ends the jti of every refresh token (UAA's
	// REFRESH_TOKEN_SUFFIX); CC refuses a bearer token whose jti has it.
	RefreshSuffix = "-r"
)

// The grant types of the embedded UAA's /oauth/token.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Claims are the claims of a UAA access token (MAPPING §4, CC's
// spec/support/user_header_helpers.rb, uaa UaaTokenServices#createJWTAccessToken).
// Field order is UAA's. A client_credentials token has authorities and no
// user claims.
type Claims struct {
	JTI         string   `json:"jti"`
	Sub         string   `json:"sub"`
	Authorities []string `json:"authorities,omitempty"`
	Scope       []string `json:"scope"`
	ClientID    string   `json:"client_id"`
	CID         string   `json:"cid"`
	AZP         string   `json:"azp"`
	GrantType   string   `json:"grant_type"`
	UserID      string   `json:"user_id,omitempty"`
	Origin      string   `json:"origin,omitempty"`
	UserName    string   `json:"user_name,omitempty"`
	Email       string   `json:"email,omitempty"`
	AuthTime    int64    `json:"auth_time,omitempty"`
	RevSig      string   `json:"rev_sig"`
	IAT         int64    `json:"iat"`
	Exp         int64    `json:"exp"`
	Iss         string   `json:"iss"`
	ZID         string   `json:"zid"`
	Aud         []string `json:"aud"`
}

// GetExpirationTime and the other methods make Claims a jwt.Claims.
func (c Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.Exp), nil }

// GetIssuedAt implements jwt.Claims.
func (c Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IAT), nil }

// GetNotBefore implements jwt.Claims; UAA sets no nbf.
func (c Claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c Claims) GetIssuer() (string, error) { return c.Iss, nil }

// GetSubject implements jwt.Claims.
func (c Claims) GetSubject() (string, error) { return c.Sub, nil }

// GetAudience implements jwt.Claims.
func (c Claims) GetAudience() (jwt.ClaimStrings, error) { return c.Aud, nil }

// RefreshClaims are the claims of a UAA refresh token (uaa
// RefreshTokenCreator#buildJwtToken). Field order is UAA's.
type RefreshClaims struct {
	JTI           string   `json:"jti"`
	Sub           string   `json:"sub"`
	IAT           int64    `json:"iat"`
	Exp           int64    `json:"exp"`
	CID           string   `json:"cid"`
	ClientID      string   `json:"client_id"`
	Iss           string   `json:"iss"`
	ZID           string   `json:"zid"`
	Aud           []string `json:"aud"`
	GrantedScopes []string `json:"granted_scopes"`
	// Scope is where UAA releases before granted_scopes kept the scopes;
	// it is read (UaaTokenServices#getScopesFromRefreshToken), never written.
	Scope     []string `json:"scope,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	GrantType string   `json:"grant_type"`
	UserName  string   `json:"user_name"`
	Origin    string   `json:"origin"`
	UserID    string   `json:"user_id"`
	RevSig    string   `json:"rev_sig"`
}

// GetExpirationTime and the other methods make RefreshClaims a jwt.Claims.
func (c RefreshClaims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.Exp), nil }

// GetIssuedAt implements jwt.Claims.
func (c RefreshClaims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IAT), nil }

// GetNotBefore implements jwt.Claims; UAA sets no nbf.
func (c RefreshClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c RefreshClaims) GetIssuer() (string, error) { return c.Iss, nil }

// GetSubject implements jwt.Claims.
func (c RefreshClaims) GetSubject() (string, error) { return c.Sub, nil }

// GetAudience implements jwt.Claims.
func (c RefreshClaims) GetAudience() (jwt.ClaimStrings, error) { return c.Aud, nil }

// Scopes are the scopes the refresh token grants: granted_scopes, or
// scope in a token of an older UAA.
func (c RefreshClaims) Scopes() []string {
	if c.GrantedScopes != nil {
		return c.GrantedScopes
	}
	return c.Scope
}

// IDClaims are the claims of an OpenID Connect id token (uaa IdToken):
// the names and phone UAA adds when it knows them are left out, as UAA
// leaves out what it does not know.
type IDClaims struct {
	Sub           string   `json:"sub"`
	Aud           []string `json:"aud"`
	Iss           string   `json:"iss"`
	Exp           int64    `json:"exp"`
	IAT           int64    `json:"iat"`
	AMR           []string `json:"amr"`
	AZP           string   `json:"azp"`
	Scope         []string `json:"scope"`
	EmailVerified bool     `json:"email_verified"`
	Email         string   `json:"email,omitempty"`
	CID           string   `json:"cid"`
	ClientID      string   `json:"client_id"`
	GrantType     string   `json:"grant_type"`
	UserName      string   `json:"user_name"`
	ZID           string   `json:"zid"`
	Origin        string   `json:"origin"`
	JTI           string   `json:"jti"`
	RevSig        string   `json:"rev_sig"`
	AuthTime      int64    `json:"auth_time"`
	UserID        string   `json:"user_id"`
}

// GetExpirationTime and the other methods make IDClaims a jwt.Claims.
func (c IDClaims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.Exp), nil }

// GetIssuedAt implements jwt.Claims.
func (c IDClaims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IAT), nil }

// GetNotBefore implements jwt.Claims; UAA sets no nbf.
func (c IDClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c IDClaims) GetIssuer() (string, error) { return c.Iss, nil }

// GetSubject implements jwt.Claims.
func (c IDClaims) GetSubject() (string, error) { return c.Sub, nil }

// GetAudience implements jwt.Claims.
func (c IDClaims) GetAudience() (jwt.ClaimStrings, error) { return c.Aud, nil }

func numericDate(unix int64) *jwt.NumericDate { return jwt.NewNumericDate(time.Unix(unix, 0)) }

// User is the user a token speaks for.
type User struct {
	ID    string
	Name  string
	Email string
}

// Grant is one token request that succeeded: who asked (the client, and
// the user unless it is a client_credentials grant), what for, and when.
// Its methods build the tokens UAA answers it with.
type Grant struct {
	Issuer   string
	ClientID string
	// GrantType is the grant the user authenticated with; a refresh keeps
	// the original one, as UAA does.
	GrantType string
	// User is nil for a client_credentials grant.
	User   *User
	Scopes []string
	// AuthTime is when the user authenticated; a refresh keeps it.
	AuthTime time.Time
	Now      time.Time
}

// Access returns the access token's claims, valid for ttl.
func (g Grant) Access(ttl time.Duration) Claims {
	c := Claims{
		JTI: newJTI(), Sub: g.ClientID, Scope: g.Scopes, ClientID: g.ClientID, CID: g.ClientID, AZP: g.ClientID,
		GrantType: g.GrantType, RevSig: g.revSig(), IAT: g.Now.Unix(), Exp: g.Now.Add(ttl).Unix(),
		Iss: g.Issuer, ZID: ZoneID, Aud: audience(g.ClientID, g.Scopes),
	}
	if g.User == nil {
		c.Authorities = g.Scopes
		return c
	}
	c.Sub, c.UserID, c.Origin, c.UserName, c.Email = g.User.ID, g.User.ID, Origin, g.User.Name, g.User.Email
	c.AuthTime = g.AuthTime.Unix()
	return c
}

// Refresh returns the refresh token's claims, valid for ttl. A
// client_credentials grant gets no refresh token: do not call it for one.
func (g Grant) Refresh(ttl time.Duration) RefreshClaims {
	c := RefreshClaims{
		JTI: newJTI() + RefreshSuffix, IAT: g.Now.Unix(), Exp: g.Now.Add(ttl).Unix(), CID: g.ClientID, ClientID: g.ClientID,
		Iss: g.Issuer, ZID: ZoneID, Aud: audience(g.ClientID, g.Scopes), GrantedScopes: g.Scopes,
		AMR: []string{"pwd"}, AuthTime: g.AuthTime.Unix(), GrantType: g.GrantType, Origin: Origin, RevSig: g.revSig(),
	}
	if g.User != nil {
		c.Sub, c.UserName, c.UserID = g.User.ID, g.User.Name, g.User.ID
	}
	return c
}

// ID returns the OpenID Connect id token's claims, valid for ttl, for a
// grant with a user.
func (g Grant) ID(ttl time.Duration) IDClaims {
	c := IDClaims{
		Aud: []string{g.ClientID}, Iss: g.Issuer, Exp: g.Now.Add(ttl).Unix(), IAT: g.Now.Unix(), AMR: []string{"pwd"},
		AZP: g.ClientID, Scope: []string{"openid"}, CID: g.ClientID, ClientID: g.ClientID, GrantType: g.GrantType,
		ZID: ZoneID, Origin: Origin, JTI: newJTI(), RevSig: g.revSig(), AuthTime: g.AuthTime.Unix(),
	}
	if g.User != nil {
		c.Sub, c.UserID, c.UserName, c.Email = g.User.ID, g.User.ID, g.User.Name, g.User.Email
		c.EmailVerified = true
	}
	return c
}

func (g Grant) revSig() string {
	if g.User == nil {
		return RevSig(g.ClientID, "", "", "")
	}
	return RevSig(g.ClientID, g.User.ID, g.User.Name, g.User.Email)
}

// RevSig is the rev_sig of tokens that client obtained for a user (empty
// strings for the client itself): like UAA's revocable token signature, a
// short hash of who the token speaks for, so that a refresh token stops
// working once the user it was issued to has changed.
func RevSig(clientID, userID, username, email string) string {
	h := sha256.New()
	for _, s := range []string{clientID, userID, username, email} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// UserToken returns the claims UAA gives a user who logged in with the cf
// client and the password grant, as the embedded UAA's /oauth/token does.
// The audience is derived from the scopes, as UAA does (each scope up to
// its last dot, or the whole scope).
func UserToken(issuer, userGUID, username, email string, scopes []string, now time.Time, ttl time.Duration) Claims {
	g := Grant{Issuer: issuer, ClientID: "cf", GrantType: GrantPassword,
		User: &User{ID: userGUID, Name: username, Email: email}, Scopes: scopes, AuthTime: now, Now: now}
	return g.Access(ttl)
}

// newJTI is a token id as UAA makes them: a random uuid without dashes.
func newJTI() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

func audience(client string, scopes []string) []string {
	seen := map[string]bool{client: true}
	out := []string{client}
	for _, s := range scopes {
		r := s
		if i := strings.LastIndexByte(s, '.'); i > 0 {
			r = s[:i]
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
