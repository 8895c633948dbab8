// Package connectors holds keyward's IGA platform profiles: the request
// normalisation each platform needs before keyward's one SCIM service validates
// a request (iga.md §1). A profile is chosen per client credential; it never
// forks the service. Each platform lives in its own subpackage; this package
// holds the Profile interface, the Request it rewrites and shared helpers.
package connectors

import (
	"net/http"
	"net/url"
	"strings"
)

// Request is a SCIM request as a profile sees it, after keyward resolved the base
// path and before it validates the body.
type Request struct {
	Method string
	// Path is the canonical path below the base path: /Users, /Groups/42.
	Path   string
	Query  url.Values
	Header http.Header
	// Body is the decoded JSON body (numbers as json.Number), nil without one.
	Body map[string]any
}

// Resource tells which resource endpoint the request is for: Users, Groups, ….
func (r *Request) Resource() string {
	p := strings.TrimPrefix(r.Path, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return p
}

// Profile is one IGA platform's way of speaking SCIM.
type Profile interface {
	// Name is the profile's name as `keyward client add --profile` takes it.
	Name() string
	// AllowBasic tells whether clients of this profile may authenticate with
	// HTTP Basic (client name and token) besides a bearer token.
	AllowBasic() bool
	// Normalize rewrites a request in place into what RFC 7644 says the
	// platform meant. It returns an error only for requests it cannot mean
	// anything by; keyward answers that with 400.
	Normalize(r *Request) error
}

// Generic is the profile for RFC-conformant clients. It applies only the
// compatibility rules every profile shares (see Common).
type Generic struct{}

// Name implements Profile.
func (Generic) Name() string { return "generic" }

// AllowBasic implements Profile.
func (Generic) AllowBasic() bool { return true }

// Normalize implements Profile.
func (Generic) Normalize(r *Request) error { Common(r); return nil }

// Common applies the compatibility rules that are safe for every client:
//   - a PATCH body without schemas gets the PatchOp schema (iga.md BUG-05);
//   - the case of "Operations" and of op values is normalised (BUG-01);
//   - string booleans on active and primary become JSON booleans (BUG-02).
func Common(r *Request) {
	if r.Body == nil {
		return
	}
	if r.Method == http.MethodPatch {
		if _, ok := r.Body["schemas"]; !ok {
			r.Body["schemas"] = []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}
		}
		for k, v := range r.Body {
			if k != "Operations" && strings.EqualFold(k, "operations") {
				delete(r.Body, k)
				r.Body["Operations"] = v
			}
		}
		ops, _ := r.Body["Operations"].([]any)
		for _, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				continue
			}
			for k, v := range op {
				lk := strings.ToLower(k)
				if lk != k && (lk == "op" || lk == "path" || lk == "value") {
					delete(op, k)
					op[lk] = v
				}
			}
			if s, ok := op["op"].(string); ok {
				op["op"] = strings.ToLower(s)
			}
			path, _ := op["path"].(string)
			if isBooleanPath(path) {
				op["value"] = coerceBool(op["value"])
			}
			CoerceBooleans(op["value"])
		}
		return
	}
	if _, ok := r.Body["schemas"]; !ok && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		// A create or replace without schemas (Entra's and Microsoft's own
		// test bodies) means the endpoint's core schema.
		switch r.Resource() {
		case "Users":
			r.Body["schemas"] = []any{"urn:ietf:params:scim:schemas:core:2.0:User"}
		case "Groups":
			r.Body["schemas"] = []any{"urn:ietf:params:scim:schemas:core:2.0:Group"}
		}
	}
	CoerceBooleans(r.Body)
}

func isBooleanPath(p string) bool {
	p = strings.ToLower(p)
	return p == "active" || strings.HasSuffix(p, ".primary") || strings.HasSuffix(p, ":active")
}

// CoerceBooleans turns "True"/"false" strings of the boolean attributes active
// and primary into JSON booleans, anywhere in v.
func CoerceBooleans(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch strings.ToLower(k) {
			case "active", "primary":
				x[k] = coerceBool(e)
			default:
				CoerceBooleans(e)
			}
		}
	case []any:
		for _, e := range x {
			CoerceBooleans(e)
		}
	}
}

func coerceBool(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

// NoContentPatcher is an optional capability of a profile: a platform whose
// reference behaviour answers every successful PATCH with 204 No Content
// (RFC 7644 §3.5.2 allows it) rather than 200 with the resource.
type NoContentPatcher interface {
	PatchNoContent() bool
}
