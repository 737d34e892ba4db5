package backend

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// A real OAuth 2 client library is the judge of the token endpoint: the
// password grant of the cf client, a refresh once the access token has
// expired, and the gateway's client_credentials grant.
func TestUAAWithOAuth2Client(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	c := startCF(t, nil, WithClock(clock.Now))
	httpClient := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return c.ln.Dial() },
	}, Timeout: 30 * time.Second}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	tokenURL := "http://api.example.org/oauth/token"

	cf := &oauth2.Config{ClientID: "cf", Endpoint: oauth2.Endpoint{TokenURL: tokenURL}}
	tok, err := cf.PasswordCredentialsToken(ctx, "developer", "developer")
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if tok.RefreshToken == "" || tok.Type() != "Bearer" || tok.Extra("jti") == nil || tok.Extra("scope") == nil {
		t.Errorf("token %+v", tok)
	}
	c.must(200, "GET", "/v3/apps", bearerAuth(tok.AccessToken), nil)

	if _, err := cf.PasswordCredentialsToken(ctx, "developer", "wrong"); err == nil {
		t.Error("a wrong password got a token")
	} else if re, ok := err.(*oauth2.RetrieveError); !ok || re.Response.StatusCode != 401 || re.ErrorCode != "unauthorized" {
		t.Errorf("wrong password: %v", err)
	}

	// The access token expires: the token source refreshes it.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	clock.Advance(time.Minute)
	fresh, err := cf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
		t.Errorf("refreshed token %+v", fresh)
	}
	c.must(200, "GET", "/v3/apps", bearerAuth(fresh.AccessToken), nil)

	gw := &clientcredentials.Config{ClientID: c.srv.cfg.GatewayClientID, ClientSecret: c.srv.cfg.GatewayClientSecret, TokenURL: tokenURL}
	gwTok, err := gw.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	c.must(200, "GET", "/v3/apps", bearerAuth(gwTok.AccessToken), nil)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := *gw
		cfg.AuthStyle = style
		if _, err := cfg.Token(ctx); err != nil {
			t.Errorf("client_credentials with auth style %d: %v", style, err)
		}
	}
}
