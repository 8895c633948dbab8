package scim

import (
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// root answers queries across resource types (RFC 7644 §3.4.3): GET / and
// POST /.search over Users, then Groups. A filter naming an attribute one type
// lacks selects nothing of that type.
type root struct{ s *server }

var (
	_ scim.RootQueryHandler = (*root)(nil)
	_ scim.ResourceSearcher = (*root)(nil)
)

// GetAll implements scim.RootQueryHandler.
func (h *root) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return h.query(r, r.URL.Query().Get("filter"), params.StartIndex, params.Count, projectionFrom(r))
}

// Search implements scim.ResourceSearcher.
func (h *root) Search(r *http.Request, params scim.SearchParams) (scim.Page, error) {
	return h.query(r, params.Filter, params.StartIndex, params.Count,
		projection{attrs: splitList(strings.Join(params.Attributes, ",")), excluded: splitList(strings.Join(params.ExcludedAttributes, ","))})
}

func (h *root) query(r *http.Request, raw string, start, count int, p projection) (scim.Page, error) {
	type part struct {
		rt scim.ResourceType
		l  lister
		f  filter.Expression
	}
	parts := []part{{rt: h.s.userType, l: &users{h.s}}, {rt: h.s.groupType, l: &groups{h.s}}}
	raw = strings.TrimSpace(raw)
	var keep []part
	var firstErr error
	for _, pt := range parts {
		if raw != "" {
			var exts []schema.Schema
			for _, e := range pt.rt.SchemaExtensions {
				exts = append(exts, e.Schema)
			}
			f, err := parseFilter(quoteBareValues(raw), pt.rt.Schema, exts...)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			pt.f = f
		}
		keep = append(keep, pt)
	}
	if len(keep) == 0 {
		return scim.Page{}, firstErr
	}
	out := scim.Page{Resources: []scim.Resource{}}
	offset := max(start, 1) - 1
	for _, pt := range keep {
		head, err := pt.l.list(r, pt.f, 1, 0, p)
		if err != nil {
			return scim.Page{}, err
		}
		out.TotalResults += head.TotalResults
		if offset >= head.TotalResults {
			offset -= head.TotalResults
			continue
		}
		if count > len(out.Resources) {
			page, err := pt.l.list(r, pt.f, offset+1, count-len(out.Resources), p)
			if err != nil {
				return scim.Page{}, err
			}
			schemas := []string{pt.rt.Schema.ID}
			for _, e := range pt.rt.SchemaExtensions {
				schemas = append(schemas, e.Schema.ID)
			}
			for _, x := range page.Resources {
				x.Attributes = h.s.render(pt.rt, schemas, x)
				out.Resources = append(out.Resources, x)
			}
		}
		offset = 0
	}
	return out, nil
}
