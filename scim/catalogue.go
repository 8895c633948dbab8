package scim

import (
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimfilter "github.com/elimity-com/scim/filter"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// catalogue serves the read-only /Entitlements, /Roles and /Locks: each
// resource has a stable id, value and displayName (iga.md BUG-43). Writes are
// refused with 405 before they reach it.
type catalogue struct {
	s    *server
	kind string
}

var (
	_ scim.ResourceHandler  = (*catalogue)(nil)
	_ scim.ResourceSearcher = (*catalogue)(nil)
)

var catalogueAttrs = attrMap{
	"id": sx("id"), "value": sx("id"), "displayname": s("name"), "type": {}, "description": {},
	"owner": s("owner"), "criticality": s("criticality"), "entitlements": {},
	"locksystem": sx("lockSystemId"), "asset": sx("assetId"),
	"meta.lastmodified": {store: "modified", caseExact: true, kind: kindTime},
	"meta.created":      {store: "created", caseExact: true, kind: kindTime},
}

func (c *catalogue) doc(rec any) (domain.Meta, map[string]any) {
	switch x := rec.(type) {
	case *domain.Entitlement:
		d := map[string]any{"value": x.ID, "displayName": x.Name, "type": "Entitlement", "criticality": string(x.Criticality)}
		putNonEmpty(d, "description", x.Description)
		putNonEmpty(d, "owner", x.Owner)
		return x.Meta, d
	case *domain.Policy:
		d := map[string]any{"value": x.ID, "displayName": x.Name, "type": "Role"}
		putNonEmpty(d, "description", x.Description)
		if len(x.Entitlements) > 0 {
			l := make([]any, len(x.Entitlements))
			for i, e := range x.Entitlements {
				l[i] = e
			}
			d["entitlements"] = l
		}
		return x.Meta, d
	case *domain.Lock:
		d := map[string]any{"value": x.ID, "displayName": firstNonEmpty(x.Name, x.VendorID), "type": "Lock", "lockSystem": x.LockSystemID}
		putNonEmpty(d, "asset", x.AssetID)
		return x.Meta, d
	}
	return domain.Meta{}, nil
}

func (c *catalogue) page(r *http.Request, q store.Query) ([]any, int, error) {
	ctx := r.Context()
	var out []any
	var total int
	err := c.s.st.View(ctx, func(tx store.Tx) error {
		switch c.kind {
		case "Entitlement":
			l, n, err := store.List[domain.Entitlement](ctx, tx, q)
			for _, x := range l {
				out = append(out, x)
			}
			total = n
			return err
		case "Role":
			l, n, err := store.List[domain.Policy](ctx, tx, q)
			for _, x := range l {
				out = append(out, x)
			}
			total = n
			return err
		default:
			l, n, err := store.List[domain.Lock](ctx, tx, q)
			for _, x := range l {
				out = append(out, x)
			}
			total = n
			return err
		}
	})
	return out, total, err
}

func (c *catalogue) resource(rec any) scim.Resource {
	m, d := c.doc(rec)
	return scim.Resource{ID: m.ID, Attributes: d, Meta: metaOf(m)}
}

// Get implements scim.ResourceHandler.
func (c *catalogue) Get(r *http.Request, id string) (scim.Resource, error) {
	l, _, err := c.page(r, store.Query{Filter: store.Eqf("id", id), Limit: 1})
	if err != nil {
		return scim.Resource{}, c.s.toSCIM(r, err, http.MethodGet)
	}
	if len(l) == 0 {
		return scim.Resource{}, errNotFound(c.kind, id)
	}
	return c.resource(l[0]), nil
}

// GetAll implements scim.ResourceHandler.
func (c *catalogue) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return c.list(r, params.FilterValidator, params.StartIndex, params.Count)
}

// Search implements scim.ResourceSearcher.
func (c *catalogue) Search(r *http.Request, params scim.SearchParams) (scim.Page, error) {
	return c.list(r, params.FilterValidator, params.StartIndex, params.Count)
}

func (c *catalogue) list(r *http.Request, v *scimfilter.Validator, startIndex, count int) (scim.Page, error) {
	q := store.Query{Offset: startIndex - 1, Limit: count}
	if v != nil {
		tr := translator{attrs: catalogueAttrs}
		t, err := tr.translate(v.GetFilter())
		if err != nil {
			return scim.Page{}, err
		}
		if !t.Exact {
			return scim.Page{}, errInvalidFilter("this catalogue filters on id, value, displayName, owner, criticality, lockSystem, asset and meta only")
		}
		q.Filter = t.Expr
	}
	l, total, err := c.page(r, q)
	if err != nil {
		return scim.Page{}, c.s.toSCIM(r, err, http.MethodGet)
	}
	p := scim.Page{TotalResults: total, Resources: []scim.Resource{}}
	for _, x := range l {
		p.Resources = append(p.Resources, c.resource(x))
	}
	return p, nil
}

func readOnly(kind string) error {
	return errMutability("%s is a read-only catalogue", strings.ToLower(kind))
}

// Create implements scim.ResourceHandler.
func (c *catalogue) Create(*http.Request, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, readOnly(c.kind)
}

// Replace implements scim.ResourceHandler.
func (c *catalogue) Replace(*http.Request, string, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, readOnly(c.kind)
}

// Patch implements scim.ResourceHandler.
func (c *catalogue) Patch(*http.Request, string, []scim.PatchOperation) (scim.Resource, error) {
	return scim.Resource{}, readOnly(c.kind)
}

// Delete implements scim.ResourceHandler.
func (c *catalogue) Delete(*http.Request, string) error { return readOnly(c.kind) }
