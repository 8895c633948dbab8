package scim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// simpleFilter matches the one-comparison filters IGAs send on every lookup
// (`userName eq "…"`, `displayName eq "…"`, `externalId eq "…"`).
var simpleFilter = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9_.:$-]*)\s+(?i:(eq|ne|co|sw|ew|gt|ge|lt|le))\s+"((?:[^"\\]|\\.)*)"\s*$`)

// parseFilter parses and validates a filter against a resource type's schemas.
// A single comparison is built directly (the library's PEG parser costs about a
// millisecond a parse, most of a lookup's time); anything else goes to the
// library's parser. Both are validated by the library against the schema.
func parseFilter(f string, core schema.Schema, exts ...schema.Schema) (filter.Expression, error) {
	withCommon := core
	withCommon.Attributes = append(append(schema.Attributes{}, core.Attributes...), schema.CommonAttributes()...)
	if m := simpleFilter.FindStringSubmatch(f); m != nil && !strings.Contains(m[1], "[") {
		p, ok := attrPath(m[1])
		if ok {
			exp := &filter.AttributeExpression{AttributePath: p, Operator: filter.CompareOperator(strings.ToLower(m[2])), CompareValue: m[3]}
			if err := scimfilter.NewFilterValidator(exp, withCommon, exts...).Validate(); err != nil {
				return nil, errInvalidFilter(err.Error())
			}
			return exp, nil
		}
	}
	v, err := scimfilter.NewValidator(f, withCommon, exts...)
	if err != nil {
		return nil, errInvalidFilter("the filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)")
	}
	if err := v.Validate(); err != nil {
		return nil, errInvalidFilter(err.Error())
	}
	return v.GetFilter(), nil
}

// attrPath splits `urn:…:name.sub` into a filter attribute path.
func attrPath(s string) (filter.AttributePath, bool) {
	var p filter.AttributePath
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		i := strings.LastIndexByte(s, ':')
		uri := s[:i]
		p.URIPrefix, s = &uri, s[i+1:]
	}
	name, sub, hasSub := strings.Cut(s, ".")
	if name == "" || hasSub && (sub == "" || strings.Contains(sub, ".")) {
		return p, false
	}
	p.AttributeName = name
	if hasSub {
		p.SubAttribute = &sub
	}
	return p, true
}

// lister is a resource endpoint whose listing keyward serves itself.
type lister interface {
	list(r *http.Request, f filter.Expression, startIndex, count int, p projection) (scim.Page, error)
}

// serveList answers GET /Users and GET /Groups without the library's list
// handler, so that the filter is parsed once, by parseFilter. The response is
// what the library would write (RFC 7644 §3.4.2), with itemsPerPage the number
// of resources returned.
func (s *server) serveList(w http.ResponseWriter, r *http.Request, rt scim.ResourceType, l lister) {
	q := r.URL.Query()
	count, err1 := intParam(q.Get("count"), s.cfg.MaxResults)
	start, err2 := intParam(q.Get("startIndex"), 1)
	if err1 != nil || err2 != nil {
		writeError(w, http.StatusBadRequest, "invalidValue", "count and startIndex must be integers")
		return
	}
	count = min(max(count, 0), s.cfg.MaxResults)
	start = max(start, 1)
	var f filter.Expression
	if raw := strings.TrimSpace(q.Get("filter")); raw != "" {
		var exts []schema.Schema
		for _, e := range rt.SchemaExtensions {
			exts = append(exts, e.Schema)
		}
		var err error
		if f, err = parseFilter(raw, rt.Schema, exts...); err != nil {
			writeScimError(w, err)
			return
		}
	}
	page, err := l.list(r, f, start, count, projectionFrom(r))
	if err != nil {
		if o := overrideFrom(r); o != nil && o.status != 0 {
			w.Header().Set("Retry-After", o.retryAfter)
			writeError(w, o.status, "", o.detail)
			return
		}
		writeScimError(w, err)
		return
	}
	schemas := []string{rt.Schema.ID}
	for _, e := range rt.SchemaExtensions {
		schemas = append(schemas, e.Schema.ID)
	}
	res := make([]map[string]any, len(page.Resources))
	for i, x := range page.Resources {
		res[i] = s.render(rt, schemas, x)
	}
	body, err := json.Marshal(map[string]any{
		"schemas": []string{urnListResponse}, "totalResults": page.TotalResults,
		"startIndex": start, "itemsPerPage": len(res), "Resources": res,
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "internal error; the cause is in keyward's log")
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// render is a resource as the library renders one: its attributes plus id,
// schemas and meta.
func (s *server) render(rt scim.ResourceType, schemas []string, x scim.Resource) map[string]any {
	out := make(map[string]any, len(x.Attributes)+3)
	for k, v := range x.Attributes {
		out[k] = v
	}
	out["id"] = x.ID
	out["schemas"] = schemas
	m := map[string]any{"resourceType": rt.Name, "location": s.location(strings.TrimPrefix(rt.Endpoint, "/"), x.ID)}
	if x.Meta.Created != nil {
		m["created"] = x.Meta.Created.Format(time.RFC3339)
	}
	if x.Meta.LastModified != nil {
		m["lastModified"] = x.Meta.LastModified.Format(time.RFC3339)
	}
	if x.Meta.Version != "" {
		m["version"] = x.Meta.Version
	}
	out["meta"] = m
	return out
}

func intParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func writeScimError(w http.ResponseWriter, err error) {
	if se, ok := asScim(err); ok {
		writeError(w, se.Status, string(se.ScimType), se.Detail)
		return
	}
	writeError(w, http.StatusInternalServerError, "", "internal error; the cause is in keyward's log")
}
