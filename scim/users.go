package scim

import (
	"context"
	"encoding/json"
	"fmt"
	scimfilter "github.com/elimity-com/scim/filter"
	"hash/fnv"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/google/uuid"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/keyward/keyward/connectors"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// users serves /Users from identities and their grants.
type users struct{ s *server }

var (
	_ scim.ResourceHandler  = (*users)(nil)
	_ scim.ResourceSearcher = (*users)(nil)
)

// joinUsers resolves groups/entitlements/grants eq "<entitlement id>" into the
// ids of the identities holding a current grant of it.
func (s *server) joinUsers(ctx context.Context, tx store.Tx, attr string, value string) ([]string, error) {
	return joinGrants(ctx, tx, attr, value, "entitlementId", func(g *domain.Grant) string { return g.IdentityID })
}

// joinGrants selects the current grants whose key attribute equals value (or,
// for a "meta.lastmodified OP" attr, the grants changed accordingly) and returns
// the distinct other side of each.
func joinGrants(ctx context.Context, tx store.Tx, attr, value, key string, side func(*domain.Grant) string) ([]string, error) {
	var sel store.Expr = store.And{store.Eqf(key, value), currentGrant()}
	if op, ok := strings.CutPrefix(attr, "meta.lastmodified "); ok {
		sel = store.Compare{Attr: "modified", Op: store.Op(op), Value: value, CaseExact: true}
	}
	grants, err := store.All[domain.Grant](ctx, tx, sel)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range grants {
		if id := side(g); !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func currentGrant() store.Expr {
	return store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))}
}

func (u *users) boundTranslator(ctx context.Context, tx store.Tx) translator {
	tr := u.s.users.tr
	tr.join = func(a, v string) ([]string, error) { return u.s.joinUsers(ctx, tx, a, v) }
	return tr
}

func metaOf(m domain.Meta) scim.Meta {
	c, l := m.Created, m.Modified
	return scim.Meta{Created: &c, LastModified: &l, Version: etagOf(m.Version)}
}

// metaWithGrants is the meta of a resource whose document shows grants: a grant
// made or revoked changes the document, so it changes the version and
// lastModified too (iga.md BUG-26, BUG-36).
func metaWithGrants(m domain.Meta, grants []*domain.Grant) scim.Meta {
	out := metaOf(m)
	out.Version = versionWithGrants(m.Version, grants)
	for _, g := range grants {
		if g.Modified.After(*out.LastModified) {
			t := g.Modified
			out.LastModified = &t
		}
	}
	return out
}

func versionWithGrants(v int64, grants []*domain.Grant) string {
	if len(grants) == 0 {
		return etagOf(v)
	}
	h := fnv.New64a()
	for _, g := range grants {
		fmt.Fprintf(h, "%s/%d;", g.ID, g.Version)
	}
	return fmt.Sprintf(`W/"%d-%x"`, v, h.Sum64())
}

// withMeta adds what in-memory filters and projection need beside the
// attributes: id, externalId and meta.
func withMeta(d map[string]any, m domain.Meta, externalID, resourceType string) map[string]any {
	d["id"] = m.ID
	if externalID != "" {
		d["externalId"] = externalID
	}
	d["meta"] = map[string]any{"created": timeString(&m.Created), "lastModified": timeString(&m.Modified), "resourceType": resourceType}
	return d
}

func (u *users) resource(f *userFacts, ents map[string]*domain.Entitlement, p projection) scim.Resource {
	d := withMeta(u.s.userDoc(f, ents), f.identity.Meta, f.identity.ExternalID, "User")
	d = u.s.users.project(d, p)
	delete(d, "meta")
	return scim.Resource{ID: f.identity.ID, Attributes: d, Meta: metaWithGrants(f.identity.Meta, f.grants)}
}

func (u *users) loads(p projection) (grants, keys bool) {
	sh := u.s.users
	// Grants are always read: they are part of the version.
	grants = true
	keys = sh.wants(p, URNKeywardUser, "keys") || sh.wants(p, URNKeywardUser, "deliveries") ||
		sh.wants(p, URNKeywardUser, "grants")
	return grants, keys
}

// Get implements scim.ResourceHandler.
func (u *users) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx := r.Context()
	var res scim.Resource
	p := projectionFrom(r)
	err := u.s.st.View(ctx, func(tx store.Tx) error {
		in, err := store.Get[domain.Identity](ctx, tx, id)
		if err != nil {
			return err
		}
		g, k := u.loads(p)
		fs, ents, err := loadUsers(ctx, tx, []*domain.Identity{in}, g, k)
		if err != nil {
			return err
		}
		res = u.resource(fs[0], ents, p)
		return nil
	})
	if err != nil {
		return scim.Resource{}, u.s.toSCIM(r, err, http.MethodGet)
	}
	return res, nil
}

// GetAll implements scim.ResourceHandler.
func (u *users) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return u.list(r, getFilter(params.FilterValidator), params.StartIndex, params.Count, projectionFrom(r))
}

// Search implements scim.ResourceSearcher (POST /Users/.search).
func (u *users) Search(r *http.Request, params scim.SearchParams) (scim.Page, error) {
	return u.list(r, getFilter(params.FilterValidator), params.StartIndex, params.Count,
		projection{attrs: splitList(strings.Join(params.Attributes, ",")), excluded: splitList(strings.Join(params.ExcludedAttributes, ","))})
}

func (u *users) list(r *http.Request, ex filter.Expression, startIndex, count int, p projection) (scim.Page, error) {
	ctx := r.Context()
	page := scim.Page{Resources: []scim.Resource{}}
	err := u.s.st.View(ctx, func(tx store.Tx) error {
		tr := u.boundTranslator(ctx, tx)
		q := translation{Exact: true}
		if ex != nil {
			var err error
			if q, err = tr.translate(ex); err != nil {
				return err
			}
		}
		g, k := u.loads(p)
		if q.Exact {
			ids, total, err := store.List[domain.Identity](ctx, tx, store.Query{Filter: q.Expr, Offset: startIndex - 1, Limit: count})
			if err != nil {
				return err
			}
			page.TotalResults = total
			fs, ents, err := loadUsers(ctx, tx, ids, g, k)
			if err != nil {
				return err
			}
			for _, f := range fs {
				page.Resources = append(page.Resources, u.resource(f, ents, p))
			}
			return nil
		}
		// The filter needs an in-memory check: read the candidates whole.
		ids, err := store.All[domain.Identity](ctx, tx, q.Expr)
		if err != nil {
			return err
		}
		fs, ents, err := loadUsers(ctx, tx, ids, true, true)
		if err != nil {
			return err
		}
		var matched []*userFacts
		for _, f := range fs {
			d := withMeta(u.s.userDoc(f, ents), f.identity.Meta, f.identity.ExternalID, "User")
			if tr.matches(ex, d) {
				matched = append(matched, f)
			}
		}
		page.TotalResults = len(matched)
		start := min(max(startIndex-1, 0), len(matched))
		end := min(start+max(count, 0), len(matched))
		for _, f := range matched[start:end] {
			page.Resources = append(page.Resources, u.resource(f, ents, p))
		}
		return nil
	})
	if err != nil {
		return scim.Page{}, u.s.toSCIM(r, err, http.MethodGet)
	}
	return page, nil
}

// Create implements scim.ResourceHandler.
func (u *users) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	in := &domain.Identity{Meta: domain.Meta{ID: uuid.NewString()}}
	if err := identityFrom(attrs, in); err != nil {
		return scim.Resource{}, err
	}
	wants, _, _, err := grantsFrom(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	steps := []engine.Step{engine.UpsertIdentity{Identity: in, Expect: 0}}
	for _, id := range sortedKeys(wants) {
		steps = append(steps, grantStep(in.ID, wants[id]))
	}
	if _, err := u.s.eng.Execute(r.Context(), actor(r), steps...); err != nil {
		return scim.Resource{}, u.s.toSCIM(r, err, http.MethodPost)
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = ""
	return u.Get(r2, in.ID)
}

func grantStep(identityID string, w wantGrant) engine.Grant {
	return engine.Grant{IdentityID: identityID, EntitlementID: w.entitlementID, ValidFrom: w.validFrom,
		ValidUntil: w.validUntil, Approval: w.approval, Justification: w.justification}
}

// current reads a user's facts and document for a change.
func (u *users) current(r *http.Request, id string) (*userFacts, map[string]any, error) {
	ctx := r.Context()
	var f *userFacts
	var d map[string]any
	err := u.s.st.View(ctx, func(tx store.Tx) error {
		in, err := store.Get[domain.Identity](ctx, tx, id)
		if err != nil {
			return err
		}
		fs, ents, err := loadUsers(ctx, tx, []*domain.Identity{in}, true, true)
		if err != nil {
			return err
		}
		f = fs[0]
		d = withMeta(u.s.userDoc(f, ents), in.Meta, in.ExternalID, "User")
		return nil
	})
	return f, d, err
}

// Replace implements scim.ResourceHandler (PUT). Read-only attributes are
// ignored; grants change only when the body names grants or entitlements, so
// that a client unaware of them (Okta PUTs the whole user) cannot revoke by
// omission.
func (u *users) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	f, _, err := u.current(r, id)
	if err != nil {
		return scim.Resource{}, u.s.toSCIM(r, err, http.MethodGet)
	}
	if err := checkIfMatch(r, versionWithGrants(f.identity.Version, f.grants)); err != nil {
		return scim.Resource{}, err
	}
	in := *f.identity
	if err := identityFrom(attrs, &in); err != nil {
		return scim.Resource{}, err
	}
	wants, hasG, hasE, err := grantsFrom(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	var steps []engine.Step
	if hasG || hasE {
		steps = grantDiff(id, f.grants, wants, true)
	}
	return u.commit(r, f, &in, steps, http.MethodPut)
}

func (u *users) commit(r *http.Request, f *userFacts, in *domain.Identity, grantSteps []engine.Step, method string) (scim.Resource, error) {
	var steps []engine.Step
	if !reflect.DeepEqual(in, f.identity) {
		steps = append(steps, engine.UpsertIdentity{Identity: in, Expect: expectFor(r, f.identity.Version)})
	}
	steps = append(steps, grantSteps...)
	if len(steps) > 0 {
		if _, err := u.s.eng.Execute(r.Context(), actor(r), steps...); err != nil {
			return scim.Resource{}, u.s.toSCIM(r, err, method)
		}
	}
	return u.Get(r, f.identity.ID)
}

// grantDiff turns the grants a client asks for into Grant and Revoke steps
// against the grants held. full: entitlements not asked for are revoked.
func grantDiff(identityID string, held []*domain.Grant, wants map[string]wantGrant, full bool) []engine.Step {
	var steps []engine.Step
	byEnt := map[string]*domain.Grant{}
	for _, g := range held {
		if _, ok := byEnt[g.EntitlementID]; !ok {
			byEnt[g.EntitlementID] = g
		}
	}
	for _, id := range sortedKeys(wants) {
		w := wants[id]
		g, ok := byEnt[id]
		if ok && sameWindow(g, w) {
			continue
		}
		steps = append(steps, grantStep(identityID, w))
	}
	if full {
		for _, id := range heldEntitlements(held) {
			if _, ok := wants[id]; !ok {
				steps = append(steps, engine.Revoke{IdentityID: identityID, EntitlementID: id, Reason: "removed by the IGA"})
			}
		}
	}
	return steps
}

// Patch implements scim.ResourceHandler: the operations are applied to the
// user's document, then the result is committed as one command.
func (u *users) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	f, doc, err := u.current(r, id)
	if err != nil {
		return scim.Resource{}, u.s.toSCIM(r, err, http.MethodGet)
	}
	if err := checkIfMatch(r, versionWithGrants(f.identity.Version, f.grants)); err != nil {
		return scim.Resource{}, err
	}
	before := deepCopy(doc)
	if err := u.s.users.applyPatch(doc, ops); err != nil {
		return scim.Resource{}, err
	}
	in := *f.identity
	if err := identityFrom(doc, &in); err != nil {
		return scim.Resource{}, err
	}
	in.ExternalID = getStr(doc, "externalId")
	steps, err := patchGrantSteps(id, f.grants, before, doc)
	if err != nil {
		return scim.Resource{}, err
	}
	res, err := u.commit(r, f, &in, steps, http.MethodPatch)
	if err != nil {
		return scim.Resource{}, err
	}
	if st := stateFrom(r); st != nil {
		if nc, ok := st.profile.(connectors.NoContentPatcher); ok && nc.PatchNoContent() {
			return scim.Resource{}, nil
		}
	}
	return res, nil
}

// patchGrantSteps compares the grants and entitlements of a document before
// and after a PATCH and turns what changed into steps.
func patchGrantSteps(id string, held []*domain.Grant, before, after map[string]any) ([]engine.Step, error) {
	gb, _ := json.Marshal(getList(getMap(before, URNKeywardUser), "grants"))
	ga, _ := json.Marshal(getList(getMap(after, URNKeywardUser), "grants"))
	eb, _ := json.Marshal(getList(before, "entitlements"))
	ea, _ := json.Marshal(getList(after, "entitlements"))
	var steps []engine.Step
	if string(gb) != string(ga) {
		onlyGrants := map[string]any{URNKeywardUser: map[string]any{"grants": getList(getMap(after, URNKeywardUser), "grants")}}
		wants, _, _, err := grantsFrom(onlyGrants)
		if err != nil {
			return nil, err
		}
		steps = append(steps, grantDiff(id, held, wants, true)...)
	}
	if string(eb) != string(ea) {
		wants, _, _, err := grantsFrom(map[string]any{"entitlements": getList(after, "entitlements")})
		if err != nil {
			return nil, err
		}
		steps = append(steps, grantDiff(id, held, wants, true)...)
	}
	return steps, nil
}

// Delete implements scim.ResourceHandler.
func (u *users) Delete(r *http.Request, id string) error {
	expect := int64(0)
	if r.Header.Get("If-Match") != "" {
		f, _, err := u.current(r, id)
		if err != nil {
			return u.s.toSCIM(r, err, http.MethodDelete)
		}
		if err := checkIfMatch(r, versionWithGrants(f.identity.Version, f.grants)); err != nil {
			return err
		}
		expect = f.identity.Version
	}
	if _, err := u.s.eng.Execute(r.Context(), actor(r), engine.DeleteIdentity{ID: id, Expect: expect}); err != nil {
		return u.s.toSCIM(r, err, http.MethodDelete)
	}
	return nil
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out map[string]any
	_ = dec.Decode(&out)
	return out
}

func getFilter(v *scimfilter.Validator) filter.Expression {
	if v == nil {
		return nil
	}
	return v.GetFilter()
}
