// Package connectortest replays recorded IGA request sequences against a real
// keyward SCIM service (SQLite in a temporary folder, HTTP on 127.0.0.1) and
// checks the responses. The sequences live in testdata/connectors/<platform>/,
// one JSON file each:
//
//	{
//	  "description": "what the sequence is",
//	  "kind": "documented" | "shape",   // shape: only what the docs state
//	  "source": "where the requests come from",
//	  "profile": "entra",               // the client's profile
//	  "auth": "bearer" | "basic",
//	  "steps": [{
//	    "name": "…",
//	    "request": {"method": "GET", "path": "/Users?filter=…", "headers": {…}, "body": {…}},
//	    "response": {"status": 200, "headers": {…}, "body": {…}, "capture": {"userId": "id"}}
//	  }]
//	}
//
// Request paths and bodies may use {{name}} for a value captured by an earlier
// step; a step with "repeat": N runs N times with {{n}} counting from 0 (capture
// names may use {{n}} too). An expected body is a subset: every key given must match, arrays must have
// the same length, "*" matches any non-null
// value and "absent" as a key's value requires the key to be missing. Arrays
// match in any order.
package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store/sqlite/sqlitetest"
	"github.com/keyward/keyward/scim"
)

// Sequence is one recorded request sequence.
type Sequence struct {
	Description string `json:"description"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	Profile     string `json:"profile"`
	Auth        string `json:"auth"`
	Steps       []Step `json:"steps"`
}

// Step is one request and what must come back.
type Step struct {
	Name    string `json:"name"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		Repeat  int               `json:"repeat"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		Capture map[string]string `json:"capture"`
	} `json:"response"`
}

// Dir is the folder of a platform's sequences, from a test in
// connectors/<platform>.
func Dir(platform string) string {
	return filepath.Join("..", "..", "testdata", "connectors", platform)
}

// Replay runs every sequence of a platform as a subtest, each against its own
// fresh keyward.
func Replay(t *testing.T, platform string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Dir(platform), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no sequences for %s", platform)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var seq Sequence
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&seq), "fixture %s", f)
		require.NotEmpty(t, seq.Steps, "fixture %s has no steps", f)
		require.Contains(t, []string{"documented", "shape"}, seq.Kind, "fixture %s: kind", f)
		t.Run(seq.Kind+"/"+strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			run(t, seq)
		})
	}
}

func run(t *testing.T, seq Sequence) {
	eng := engine.New(sqlitetest.New(t), engine.Options{})
	clients := scim.NewClients(eng)
	name := "replay-" + seq.Profile
	token, err := clients.Add(context.Background(), name, seq.Profile, scim.ScopeWrite)
	require.NoError(t, err)
	h, err := scim.NewServer(eng, scim.Config{Clients: clients, RateLimit: -1})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ReplayAt(t, srv.URL+"/scim/v2", seq, name, token)
}

// Load reads one recorded sequence.
func Load(t *testing.T, file string) Sequence {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var seq Sequence
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&seq), "fixture %s", file)
	return seq
}

// ReplayAt replays a sequence against a running SCIM service at base (its
// /scim/v2 URL) as the client name with token, as the end-to-end suite does
// against the keyward binary.
func ReplayAt(t *testing.T, base string, seq Sequence, name, token string) {
	t.Helper()
	vars := map[string]string{}
	for i, st := range seq.Steps {
		label := fmt.Sprintf("step %d %q", i+1, st.Name)
		for n := 0; n < max(st.Request.Repeat, 1); n++ {
			vars["n"] = fmt.Sprint(n)
			status, hdr, body := send(t, base, seq, name, token, st, vars)
			require.Equal(t, st.Response.Status, status, "%s: %s", label, body)
			for k, v := range st.Response.Headers {
				require.Equal(t, expand(v, vars), hdr.Get(k), "%s: header %s", label, k)
			}
			if len(st.Response.Body) > 0 {
				var want, got any
				require.NoError(t, json.Unmarshal([]byte(expand(string(st.Response.Body), vars)), &want), label)
				require.NoError(t, json.Unmarshal(body, &got), "%s: %s", label, body)
				if msg := match("$", want, got); msg != "" {
					t.Fatalf("%s: %s\nbody: %s", label, msg, body)
				}
			}
			for k, path := range st.Response.Capture {
				var got map[string]any
				require.NoError(t, json.Unmarshal(body, &got), label)
				v := lookupPath(got, path)
				require.NotEmpty(t, v, "%s: capture %s from %s", label, k, path)
				vars[expand(k, vars)] = v
			}
		}
	}
}

var varRef = regexp.MustCompile(`\{\{(\w+)\}\}`)

func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-2]]; ok {
			return v
		}
		return m
	})
}

func send(t *testing.T, base string, seq Sequence, name, token string, st Step, vars map[string]string) (int, http.Header, []byte) {
	t.Helper()
	path := expand(st.Request.Path, vars)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i+1] + strings.NewReplacer(" ", "%20", `"`, "%22").Replace(path[i+1:])
	}
	var rd io.Reader
	if len(st.Request.Body) > 0 {
		rd = strings.NewReader(expand(string(st.Request.Body), vars))
	}
	req, err := http.NewRequest(st.Request.Method, base+path, rd)
	require.NoError(t, err)
	if seq.Auth == "basic" {
		req.SetBasicAuth(name, token)
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for k, v := range st.Request.Headers {
		req.Header.Set(k, expand(v, vars))
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, body
}

// lookupPath reads "id" or "Resources.0.id" from a decoded body.
func lookupPath(v any, path string) string {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// match reports the first difference between an expected subset and a body.
func match(at string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", at, got)
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, present := g[k]
			if w[k] == "absent" {
				if present {
					return fmt.Sprintf("%s.%s: want absent, got %v", at, k, gv)
				}
				continue
			}
			if !present {
				return fmt.Sprintf("%s.%s: missing", at, k)
			}
			if m := match(at+"."+k, w[k], gv); m != "" {
				return m
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d elements, got %v", at, len(w), got)
		}
		// Multi-valued attributes have no order (RFC 7643 §2.4): each expected
		// element must match a different actual one.
		used := make([]bool, len(g))
	next:
		for i := range w {
			first := ""
			for j := range g {
				if used[j] {
					continue
				}
				m := match(fmt.Sprintf("%s[%d]", at, i), w[i], g[j])
				if m == "" {
					used[j] = true
					continue next
				}
				if first == "" {
					first = m
				}
			}
			return first
		}
		return ""
	case string:
		if w == "*" {
			if got == nil {
				return at + ": want a value, got null"
			}
			return ""
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return fmt.Sprintf("%s: want %v, got %v", at, want, got)
	}
	return ""
}
