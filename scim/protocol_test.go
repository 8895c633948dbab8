package scim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/scim"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entraTok, err := e.cl.Add(t.Context(), "entra", "entra", scim.ScopeWrite)
	require.NoError(t, err)
	basic := func(user, pass string) string {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	cases := []struct {
		name, auth string
		want       int
	}{
		{"no credentials", "", http.StatusUnauthorized},
		{"wrong token", "Bearer kw_wrong", http.StatusUnauthorized},
		{"bearer", "Bearer " + e.token, http.StatusOK},
		{"bearer scheme in another case", "bearer " + e.token, http.StatusOK},
		{"basic for a generic client", basic("iga", e.token), http.StatusOK},
		{"basic with the wrong name", basic("someone", e.token), http.StatusUnauthorized},
		{"basic refused for an Entra client", basic("entra", entraTok), http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.doAs("", http.MethodGet, "/Users", "", "Authorization", c.auth)
			assert.Equal(t, c.want, r.status, r.raw)
			if c.want == http.StatusUnauthorized {
				assert.Equal(t, "authentication required", r.body["detail"], "nothing else revealed")
				assert.NotEmpty(t, r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("removed client", func(t *testing.T) {
		require.NoError(t, e.cl.Remove(t.Context(), "entra"))
		r := e.doAs(entraTok, http.MethodGet, "/Users", "")
		assert.Equal(t, http.StatusUnauthorized, r.status)
	})
}

func TestReadScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.user("u1")
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/Users/" + u, "", http.StatusOK},
		{http.MethodPost, "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"u1\""}`, http.StatusOK},
		{http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}`, http.StatusForbidden},
		{http.MethodPatch, "/Users/" + u, patchBody(`{"op":"replace","path":"title","value":"x"}`), http.StatusForbidden},
		{http.MethodDelete, "/Users/" + u, "", http.StatusForbidden},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := e.doAs(e.read, c.method, c.path, c.body)
			assert.Equal(t, c.want, r.status, r.raw)
		})
	}
	assert.NotContains(t, mustGet(t, e, "/Users/"+u), "title")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *scim.Config) { c.RateLimit, c.RateBurst = 0.5, 2 })
	for i := 0; i < 2; i++ {
		r := e.do(http.MethodGet, "/Users", "")
		require.Equal(t, http.StatusOK, r.status)
	}
	r := e.do(http.MethodGet, "/Users", "")
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Equal(t, r.header.Get("Retry-After"), r.header.Get("X-Rate-Limit-Retry-After-Seconds"))
	assert.Equal(t, "0", r.header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, urnError, r.body["schemas"].([]any)[0])
	r = e.doAs(e.read, http.MethodGet, "/Users", "")
	assert.Equal(t, http.StatusOK, r.status, "the limit is per client")
}

func TestRoutingAndMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *scim.Config) { c.BasePath = "/Custom/SCIM/" })
	base := strings.TrimSuffix(e.url, "/scim/v2")
	e.url = base + "/custom/scim"
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/users", http.StatusOK},
		{http.MethodGet, "/USERS/", http.StatusOK},
		{http.MethodGet, "/Users/unknown-id", http.StatusNotFound},
		{http.MethodGet, "/Nonsense", http.StatusNotFound},
		{http.MethodPost, "/ServiceProviderConfig", http.StatusMethodNotAllowed},
		{http.MethodPut, "/Schemas", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/ResourceTypes/User", http.StatusMethodNotAllowed},
		{http.MethodPost, "/Entitlements", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/Locks/x", http.StatusMethodNotAllowed},
		{http.MethodPost, "/Bulk", http.StatusNotImplemented},
		{http.MethodGet, "/Me", http.StatusNotImplemented},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			body := ""
			if c.method == http.MethodPost || c.method == http.MethodPut {
				body = "{}"
			}
			r := e.do(c.method, c.path, body)
			assert.Equal(t, c.want, r.status, r.raw)
			assert.Equal(t, "application/scim+json", r.header.Get("Content-Type"))
		})
	}
	t.Run("outside the base path", func(t *testing.T) {
		e2 := *e
		e2.url = base
		r := e2.do(http.MethodGet, "/Users", "")
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.Equal(t, urnError, r.body["schemas"].([]any)[0])
	})
	t.Run("meta.location", func(t *testing.T) {
		u := e.user("loc")
		loc := mustGet(t, e, "/Users/"+u)["meta"].(map[string]any)["location"].(string)
		assert.True(t, strings.HasSuffix(loc, "Users/"+u), loc)
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *scim.Config) { c.MaxBodyBytes = 2048 })
	u := e.user("u1")
	cases := []struct {
		name, method, path, body, ctype string
		status                          int
		scimType                        string
	}{
		{"malformed JSON", http.MethodPost, "/Users", `{"userName":`, "", 400, "invalidSyntax"},
		{"not an object", http.MethodPost, "/Users", `["a"]`, "", 400, "invalidSyntax"},
		{"two values", http.MethodPost, "/Users", `{} {}`, "", 400, "invalidSyntax"},
		{"empty body", http.MethodPatch, "/Users/" + u, ` `, "", 400, "invalidSyntax"},
		{"no userName", http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"x"}`, "", 400, ""},
		{"wrong type", http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":5}`, "", 400, ""},
		{"oversize", http.MethodPost, "/Users", `{"userName":"` + strings.Repeat("x", 4000) + `"}`, "", 413, ""},
		{"media type", http.MethodPost, "/Users", `{}`, "text/plain", 415, ""},
		{"bad path", http.MethodPatch, "/Users/" + u, patchBody(`{"op":"replace","path":"nosuch","value":"x"}`), "", 400, ""},
		{"remove without path", http.MethodPatch, "/Users/" + u, patchBody(`{"op":"remove"}`), "", 400, "noTarget"},
		{"read-only path", http.MethodPatch, "/Users/" + u, patchBody(`{"op":"add","path":"groups","value":[{"value":"g"}]}`), "", 400, "mutability"},
		{"bad window", http.MethodPatch, "/Users/" + u, patchBody(`{"op":"add","path":"` + urnKW + `:grants","value":[{"value":"g","validFrom":"2030-01-02T00:00:00Z","validUntil":"2030-01-01T00:00:00Z"}]}`), "", 400, "invalidValue"},
		{"unknown entitlement", http.MethodPatch, "/Users/" + u, patchBody(`{"op":"add","path":"entitlements","value":[{"value":"no-such"}]}`), "", 400, "invalidValue"},
		{"unknown id", http.MethodPatch, "/Users/nope", patchBody(`{"op":"replace","path":"title","value":"x"}`), "", 404, ""},
		{"bad count", http.MethodGet, "/Users?count=ten", "", "", 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.ctype != "" {
				hdr = []string{"Content-Type", c.ctype}
			}
			r := e.do(c.method, c.path, c.body, hdr...)
			assert.Equal(t, c.status, r.status, r.raw)
			assert.Equal(t, urnError, r.body["schemas"].([]any)[0])
			if c.scimType != "" {
				assert.Equal(t, c.scimType, r.body["scimType"], r.raw)
			}
			assert.NotContains(t, r.raw, "sqlite", "no internal error text")
			assert.NotContains(t, r.raw, ".go:", "no internal error text")
		})
	}
	assert.Equal(t, "u1", mustGet(t, e, "/Users/"+u)["userName"], "no partial writes")
}

func TestGrantsThroughTheExtension(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.group("North substations")
	u := e.user("tech", `"`+urnKW+`":{"contractEnd":"2031-06-30T00:00:00Z","grants":[{"value":"`+g+`","validFrom":"2030-01-01T00:00:00Z","validUntil":"2030-12-31T00:00:00Z","approvalReference":"REQ-1","approver":"boss","approvedAt":"2029-12-01T10:00:00Z","justification":"maintenance","state":"ignored","source":"ignored"}]}`)
	got := mustGet(t, e, "/Users/"+u)
	kw := got[urnKW].(map[string]any)
	grants := kw["grants"].([]any)
	require.Len(t, grants, 1)
	gr := grants[0].(map[string]any)
	assert.Equal(t, g, gr["value"])
	assert.Equal(t, "North substations", gr["display"])
	assert.Equal(t, "2030-01-01T00:00:00Z", gr["validFrom"])
	assert.Equal(t, "2030-12-31T00:00:00Z", gr["validUntil"])
	assert.Equal(t, "REQ-1", gr["approvalReference"])
	assert.Equal(t, "boss", gr["approver"])
	assert.Equal(t, "maintenance", gr["justification"])
	assert.Equal(t, "iga:iga", gr["source"], "the client is the grant's source")
	assert.Equal(t, "active", gr["state"], "read-only values from the client are ignored")
	assert.Equal(t, "2031-06-30T00:00:00Z", kw["contractEnd"])
	assert.Equal(t, []string{u}, e.memberIDs(g), "the same grant, seen as membership")

	t.Run("deactivation keeps grants and reactivation restores", func(t *testing.T) {
		r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"active","value":false}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		r = e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"active","value":true}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		assert.Len(t, r.body[urnKW].(map[string]any)["grants"], 1)
	})
	t.Run("revoke by removing the grant", func(t *testing.T) {
		r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"remove","path":"`+urnKW+`:grants[value eq \"`+g+`\"]"}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		assert.Empty(t, e.memberIDs(g))
	})
	t.Run("DELETE /Groups revokes every grant it carries", func(t *testing.T) {
		g2 := e.group("Depot")
		r := e.do(http.MethodPatch, "/Groups/"+g2, patchBody(`{"op":"add","path":"members","value":[{"value":"`+u+`"}]}`))
		require.Equal(t, http.StatusNoContent, r.status)
		r = e.do(http.MethodDelete, "/Groups/"+g2, "")
		require.Equal(t, http.StatusNoContent, r.status, r.raw)
		assert.NotContains(t, mustGet(t, e, "/Users/"+u), "groups")
		assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/Groups/"+g2, "").status)
	})
	t.Run("a new group is an unbound entitlement", func(t *testing.T) {
		ext := mustGet(t, e, "/Groups/"+g)["urn:keyward:params:scim:schemas:extension:physical:2.0:Group"].(map[string]any)
		assert.Equal(t, false, ext["bound"])
		assert.Equal(t, "medium", ext["criticality"])
	})
}

func TestSearchEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("a1")
	e.user("a2")
	e.user("b1")
	r := e.do(http.MethodPost, "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"a\"","attributes":["userName"],"count":1}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, 2, listTotal(t, r))
	res := r.body["Resources"].([]any)
	require.Len(t, res, 1)
	assert.NotContains(t, res[0], "active", "attributes honoured")
}

func TestOAuthClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := strings.TrimSuffix(e.url, "/scim/v2")
	token := func(form url.Values, user, pass string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, base+"/scim/v2/oauth/token", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return res.StatusCode, body
	}
	status, body := token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"iga"}, "client_secret": {e.token}}, "", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "Bearer", body["token_type"])
	assert.EqualValues(t, 3600, body["expires_in"])
	access := body["access_token"].(string)
	r := e.doAs(access, http.MethodGet, "/Users", "")
	assert.Equal(t, http.StatusOK, r.status, r.raw)
	r = e.doAs(access, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"via-oauth"}`)
	assert.Equal(t, http.StatusCreated, r.status, r.raw)

	status, _ = token(url.Values{"grant_type": {"client_credentials"}}, "auditor", e.read)
	assert.Equal(t, http.StatusOK, status, "Basic client authentication")
	status, body = token(url.Values{"grant_type": {"client_credentials"}}, "iga", "wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "invalid_client", body["error"])
	status, body = token(url.Values{"grant_type": {"password"}}, "iga", e.token)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "unsupported_grant_type", body["error"])

	forged := access[:len(access)-2] + "xx"
	assert.Equal(t, http.StatusUnauthorized, e.doAs(forged, http.MethodGet, "/Users", "").status)
	require.NoError(t, e.cl.Remove(t.Context(), "iga"))
	assert.Equal(t, http.StatusUnauthorized, e.doAs(access, http.MethodGet, "/Users", "").status, "removing the client stops its access tokens")
}

func TestRootSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.user("lab-tech")
	e.group("Lab door")
	e.group("Depot")
	r := e.do(http.MethodPost, "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName sw \"Lab\"","count":10}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, 1, listTotal(t, r), "only the group has a displayName starting with Lab")
	r = e.do(http.MethodPost, "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"startIndex":2,"count":5}`)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, 3, listTotal(t, r))
	res := r.body["Resources"].([]any)
	require.Len(t, res, 2)
	assert.Equal(t, "Group", res[0].(map[string]any)["meta"].(map[string]any)["resourceType"])
	r = e.do(http.MethodGet, "/?filter=userName eq \"lab-tech\"", "")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, 1, listTotal(t, r))
	r = e.do(http.MethodPost, "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"nosuch eq 1"}`)
	assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
}

func TestBusyStoreAnswers503(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *scim.Config) { c.WriteTimeout = 200 * time.Millisecond })
	hold, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = e.eng.Store().Update(context.Background(), func(store.Tx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held
	r := e.do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"busy"}`)
	close(hold)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, r.raw)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Equal(t, urnError, r.body["schemas"].([]any)[0])
	r = e.do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"busy"}`)
	assert.Equal(t, http.StatusCreated, r.status, "nothing was half-written: %s", r.raw)
}

func TestQuickStartToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	first, err := e.cl.QuickStartToken(t.Context(), dir)
	require.NoError(t, err)
	again, err := e.cl.QuickStartToken(t.Context(), dir)
	require.NoError(t, err)
	assert.Equal(t, first, again, "every run prints the same token")
	fi, err := os.Stat(filepath.Join(dir, "scim-token"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, http.StatusOK, e.doAs(first, http.MethodGet, "/Users", "").status)
	require.NoError(t, e.cl.Remove(t.Context(), "quickstart"))
	again, err = e.cl.QuickStartToken(t.Context(), dir)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, http.StatusOK, e.doAs(first, http.MethodGet, "/Users", "").status, "a removed client comes back with the kept token")
}
