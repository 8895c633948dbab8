package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store/sqlite/sqlitetest"
	"github.com/keyward/keyward/scim"
)

// env is one keyward SCIM service on a fresh SQLite store, served on 127.0.0.1.
type env struct {
	t     testing.TB
	url   string // base URL of the SCIM service (…/scim/v2)
	eng   *engine.Engine
	token string // write scope, generic profile
	read  string // read scope
	cl    *scim.Clients
}

func newEnv(t testing.TB, mod ...func(*scim.Config)) *env {
	t.Helper()
	st := sqlitetest.New(t)
	eng := engine.New(st, engine.Options{})
	cl := scim.NewClients(eng)
	ctx := context.Background()
	tok, err := cl.Add(ctx, "iga", "generic", scim.ScopeWrite)
	require.NoError(t, err)
	read, err := cl.Add(ctx, "auditor", "generic", scim.ScopeRead)
	require.NoError(t, err)
	cfg := scim.Config{Clients: cl, RateLimit: -1}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := scim.NewServer(eng, cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL + "/scim/v2", eng: eng, token: tok, read: read, cl: cl}
}

// resp is a response with its decoded JSON body.
type resp struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (e *env) do(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	return e.doAs(e.token, method, path, body, hdr...)
}

func (e *env) doAs(token, method, path, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		q := strings.NewReplacer(" ", "%20", `"`, "%22", "+", "%2B").Replace(path[i+1:])
		path = path[:i+1] + q
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(e.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		require.NoError(e.t, d.Decode(&out.body), "body: %s", raw)
	}
	return out
}

// mustCreate POSTs a resource and returns its id.
func (e *env) mustCreate(path, body string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, path, body)
	require.Equal(e.t, http.StatusCreated, r.status, r.raw)
	id, _ := r.body["id"].(string)
	require.NotEmpty(e.t, id)
	return id
}

func (e *env) user(userName string, extra ...string) string {
	e.t.Helper()
	x := ""
	if len(extra) > 0 {
		x = "," + extra[0]
	}
	return e.mustCreate("/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`"`+x+`}`)
}

func (e *env) group(name string) string {
	e.t.Helper()
	return e.mustCreate("/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`","members":[]}`)
}

func patchBody(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
}

// memberIDs lists a group's member ids.
func (e *env) memberIDs(groupID string) []string {
	e.t.Helper()
	r := e.do(http.MethodGet, "/Groups/"+groupID, "")
	require.Equal(e.t, http.StatusOK, r.status, r.raw)
	var out []string
	ms, _ := r.body["members"].([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

func listTotal(t testing.TB, r resp) int {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, r.raw)
	n, err := r.body["totalResults"].(json.Number).Int64()
	require.NoError(t, err)
	return int(n)
}
