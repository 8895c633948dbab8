package scim

import (
	"net/http"
	"strings"
)

// projection is a request's attributes / excludedAttributes (RFC 7644 §3.4.2.5).
type projection struct {
	attrs    []string
	excluded []string
}

func splitList(v string) []string {
	var out []string
	depth := 0
	start := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			switch v[i] {
			case '[':
				depth++
				continue
			case ']':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if p := strings.TrimSpace(v[start:i]); p != "" {
			// emails[type eq "work"] selects the attribute emails
			if j := strings.IndexByte(p, '['); j >= 0 {
				rest := ""
				if k := strings.LastIndexByte(p, ']'); k > j && k+1 < len(p) {
					rest = p[k+1:]
				}
				p = p[:j] + rest
			}
			out = append(out, p)
		}
		start = i + 1
	}
	return out
}

func projectionFrom(r *http.Request) projection {
	q := r.URL.Query()
	return projection{attrs: splitList(q.Get("attributes")), excluded: splitList(q.Get("excludedAttributes"))}
}

// split resolves a projected name into its schema URN ("" for core) and the
// attribute (with an optional sub-attribute after a dot).
func (r resourceShape) split(name string) (urn, attrName, sub string) {
	for _, e := range append([]string{r.tr.core}, r.tr.exts...) {
		if len(name) > len(e) && strings.EqualFold(name[:len(e)], e) && name[len(e)] == ':' {
			urn, name = e, name[len(e)+1:]
			if urn == r.tr.core {
				urn = ""
			}
			break
		}
		if strings.EqualFold(name, e) {
			return e, "", ""
		}
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return urn, name[:i], name[i+1:]
	}
	return urn, name, ""
}

// wants tells whether a projection returns an attribute (of the core schema or
// the named extension); it lets the list path skip loading what it will drop.
func (r resourceShape) wants(p projection, urn, name string) bool {
	match := func(list []string) bool {
		for _, a := range list {
			u, n, _ := r.split(a)
			if strings.EqualFold(u, urn) && (n == "" || strings.EqualFold(n, name)) {
				return true
			}
		}
		return false
	}
	if len(p.attrs) > 0 {
		return match(p.attrs)
	}
	for _, a := range p.excluded {
		u, n, sub := r.split(a)
		if strings.EqualFold(u, urn) && (n == "" || strings.EqualFold(n, name) && sub == "") {
			return false
		}
	}
	return true
}

// project applies a projection to a document in place. id, schemas and meta are
// added by the library afterwards and are always returned.
func (r resourceShape) project(doc map[string]any, p projection) map[string]any {
	if len(p.attrs) > 0 {
		out := map[string]any{}
		for _, a := range p.attrs {
			urn, name, sub := r.split(a)
			src, dst := doc, out
			if urn != "" {
				m, _ := doc[urn].(map[string]any)
				if m == nil {
					continue
				}
				if name == "" {
					out[urn] = m
					continue
				}
				d, _ := out[urn].(map[string]any)
				if d == nil {
					d = map[string]any{}
					out[urn] = d
				}
				src, dst = m, d
			}
			copyAttr(src, dst, name, sub)
		}
		for k, v := range out {
			if m, ok := v.(map[string]any); ok && len(m) == 0 {
				delete(out, k)
			}
		}
		return out
	}
	for _, a := range p.excluded {
		urn, name, sub := r.split(a)
		c := doc
		if urn != "" {
			if name == "" {
				delete(doc, urn)
				continue
			}
			c, _ = doc[urn].(map[string]any)
			if c == nil {
				continue
			}
		}
		k, v, ok := lookup(c, name)
		if !ok {
			continue
		}
		if sub == "" {
			delete(c, k)
			continue
		}
		dropSub(v, sub)
	}
	return doc
}

func copyAttr(src, dst map[string]any, name, sub string) {
	k, v, ok := lookup(src, name)
	if !ok {
		return
	}
	if sub == "" {
		dst[k] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		sk, sv, ok := lookup(x, sub)
		if !ok {
			return
		}
		d, _ := dst[k].(map[string]any)
		if d == nil {
			d = map[string]any{}
		}
		d[sk] = sv
		dst[k] = d
	case []any:
		var out []any
		for _, el := range x {
			if m, ok := el.(map[string]any); ok {
				if sk, sv, ok := lookup(m, sub); ok {
					out = append(out, map[string]any{sk: sv})
				}
			}
		}
		if len(out) > 0 {
			dst[k] = out
		}
	}
}

func dropSub(v any, sub string) {
	switch x := v.(type) {
	case map[string]any:
		if k, _, ok := lookup(x, sub); ok {
			delete(x, k)
		}
	case []any:
		for _, el := range x {
			dropSub(el, sub)
		}
	}
}
