package scim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/google/uuid"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// groups serves /Groups from entitlements; members are the identities holding a
// current grant.
type groups struct{ s *server }

var (
	_ scim.ResourceHandler  = (*groups)(nil)
	_ scim.ResourceSearcher = (*groups)(nil)
)

// joinGroups resolves members eq "<user id>" into the entitlements the user
// holds a current grant of.
func (s *server) joinGroups(ctx context.Context, tx store.Tx, attr string, value string) ([]string, error) {
	return joinGrants(ctx, tx, attr, value, "identityId", func(g *domain.Grant) string { return g.EntitlementID })
}

type groupFacts struct {
	ent     *domain.Entitlement
	grants  []*domain.Grant
	members []string // identity ids, in grant order
}

// loadGroups reads the current grants of entitlements and the names of their
// holders.
func loadGroups(ctx context.Context, tx store.Tx, ents []*domain.Entitlement, withMembers bool) ([]*groupFacts, map[string]*domain.Identity, error) {
	return loadGroupsNames(ctx, tx, ents, withMembers)
}

// loadGroupsNames is loadGroups; withNames false skips reading the members'
// names (a change needs only their ids).
func loadGroupsNames(ctx context.Context, tx store.Tx, ents []*domain.Entitlement, withNames bool) ([]*groupFacts, map[string]*domain.Identity, error) {
	out := make([]*groupFacts, len(ents))
	by := map[string]*groupFacts{}
	for i, e := range ents {
		out[i] = &groupFacts{ent: e}
		by[e.ID] = out[i]
	}
	people := map[string]*domain.Identity{}
	if len(ents) == 0 {
		return out, people, nil
	}
	for _, e := range ents {
		grants, err := store.All[domain.Grant](ctx, tx, store.Eqf("entitlementId", e.ID))
		if err != nil {
			return nil, nil, err
		}
		f := by[e.ID]
		for _, g := range grants {
			if g.State != domain.GrantActive && g.State != domain.GrantRequested {
				continue
			}
			f.grants = append(f.grants, g)
			if !slices.Contains(f.members, g.IdentityID) {
				f.members = append(f.members, g.IdentityID)
				people[g.IdentityID] = nil
			}
		}
	}
	for _, f := range out {
		slices.Sort(f.members)
	}
	if !withNames {
		return out, map[string]*domain.Identity{}, nil
	}
	for _, id := range sortedKeys(people) {
		in, err := store.Get[domain.Identity](ctx, tx, id)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return nil, nil, err
		}
		people[id] = in
	}
	return out, people, nil
}

func (s *server) groupDoc(f *groupFacts, people map[string]*domain.Identity, withMembers bool) map[string]any {
	e := f.ent
	d := map[string]any{"displayName": e.Name}
	if withMembers {
		members := make([]any, 0, len(f.members))
		for _, id := range f.members {
			m := map[string]any{"value": id, "$ref": s.location("Users", id), "type": "User"}
			if in := people[id]; in != nil {
				m["display"] = firstNonEmpty(in.DisplayName, in.UserName)
			}
			members = append(members, m)
		}
		d["members"] = members
	}
	ext := map[string]any{"criticality": string(e.Criticality), "bound": e.Bound()}
	putNonEmpty(ext, "description", e.Description)
	putNonEmpty(ext, "owner", e.Owner)
	if len(e.AssetIDs) > 0 {
		a := make([]any, len(e.AssetIDs))
		for i, x := range e.AssetIDs {
			a[i] = x
		}
		ext["assets"] = a
	}
	if e.Schedule != nil {
		ext["schedule"] = scheduleText(e.Schedule)
	}
	if e.MaxDuration != 0 {
		ext["maxDuration"] = e.MaxDuration.String()
	}
	d[URNKeywardGroup] = ext
	return d
}

func scheduleText(sc *domain.Schedule) string {
	var parts []string
	for _, w := range sc.Windows {
		var days []string
		for _, d := range w.Days {
			days = append(days, d.String()[:3])
		}
		parts = append(parts, strings.Join(days, ",")+" "+w.From+"-"+w.To)
	}
	out := strings.Join(parts, "; ")
	if sc.TimeZone != "" {
		out += " (" + sc.TimeZone + ")"
	}
	return out
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

func (g *groups) resource(f *groupFacts, people map[string]*domain.Identity, p projection, withMembers bool) scim.Resource {
	d := withMeta(g.s.groupDoc(f, people, withMembers), f.ent.Meta, f.ent.ExternalID, "Group")
	d = g.s.groups.project(d, p)
	delete(d, "meta")
	return scim.Resource{ID: f.ent.ID, Attributes: d, Meta: metaWithGrants(f.ent.Meta, f.grants)}
}

// Get implements scim.ResourceHandler.
func (g *groups) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx := r.Context()
	p := projectionFrom(r)
	withMembers := g.s.groups.wants(p, "", "members")
	var res scim.Resource
	err := g.s.st.View(ctx, func(tx store.Tx) error {
		e, err := store.Get[domain.Entitlement](ctx, tx, id)
		if err != nil {
			return err
		}
		fs, people, err := loadGroups(ctx, tx, []*domain.Entitlement{e}, withMembers)
		if err != nil {
			return err
		}
		res = g.resource(fs[0], people, p, withMembers)
		return nil
	})
	if err != nil {
		return scim.Resource{}, g.s.toSCIM(r, err, http.MethodGet)
	}
	return res, nil
}

// GetAll implements scim.ResourceHandler.
func (g *groups) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	return g.list(r, getFilter(params.FilterValidator), params.StartIndex, params.Count, projectionFrom(r))
}

// Search implements scim.ResourceSearcher.
func (g *groups) Search(r *http.Request, params scim.SearchParams) (scim.Page, error) {
	return g.list(r, getFilter(params.FilterValidator), params.StartIndex, params.Count,
		projection{attrs: splitList(strings.Join(params.Attributes, ",")), excluded: splitList(strings.Join(params.ExcludedAttributes, ","))})
}

func (g *groups) list(r *http.Request, ex filter.Expression, startIndex, count int, p projection) (scim.Page, error) {
	ctx := r.Context()
	withMembers := g.s.groups.wants(p, "", "members")
	page := scim.Page{Resources: []scim.Resource{}}
	err := g.s.st.View(ctx, func(tx store.Tx) error {
		tr := g.s.groups.tr
		tr.join = func(a, val string) ([]string, error) { return g.s.joinGroups(ctx, tx, a, val) }
		q := translation{Exact: true}
		if ex != nil {
			var err error
			if q, err = tr.translate(ex); err != nil {
				return err
			}
		}
		if q.Exact {
			ents, total, err := store.List[domain.Entitlement](ctx, tx, store.Query{Filter: q.Expr, Offset: startIndex - 1, Limit: count})
			if err != nil {
				return err
			}
			page.TotalResults = total
			fs, people, err := loadGroups(ctx, tx, ents, withMembers)
			if err != nil {
				return err
			}
			for _, f := range fs {
				page.Resources = append(page.Resources, g.resource(f, people, p, withMembers))
			}
			return nil
		}
		ents, err := store.All[domain.Entitlement](ctx, tx, q.Expr)
		if err != nil {
			return err
		}
		fs, people, err := loadGroups(ctx, tx, ents, true)
		if err != nil {
			return err
		}
		var matched []*groupFacts
		for _, f := range fs {
			if tr.matches(ex, withMeta(g.s.groupDoc(f, people, true), f.ent.Meta, f.ent.ExternalID, "Group")) {
				matched = append(matched, f)
			}
		}
		page.TotalResults = len(matched)
		start := min(max(startIndex-1, 0), len(matched))
		end := min(start+max(count, 0), len(matched))
		for _, f := range matched[start:end] {
			page.Resources = append(page.Resources, g.resource(f, people, p, withMembers))
		}
		return nil
	})
	if err != nil {
		return scim.Page{}, g.s.toSCIM(r, err, http.MethodGet)
	}
	return page, nil
}

// entitlementFrom reads the writable attributes of a Group document.
func entitlementFrom(d map[string]any, e *domain.Entitlement) error {
	e.Name = strings.TrimSpace(getStr(d, "displayName"))
	if e.Name == "" {
		return errInvalidValue("displayName is required")
	}
	e.ExternalID = getStr(d, "externalId")
	ext := getMap(d, URNKeywardGroup)
	if ext == nil {
		return nil
	}
	if _, _, ok := lookup(ext, "description"); ok {
		e.Description = getStr(ext, "description")
	}
	if _, _, ok := lookup(ext, "owner"); ok {
		e.Owner = getStr(ext, "owner")
	}
	if c := domain.Criticality(strings.ToLower(getStr(ext, "criticality"))); c != "" {
		if !c.Valid() {
			return errInvalidValue("criticality must be low, medium, high or critical, not %q", c)
		}
		e.Criticality = c
	}
	if md := getStr(ext, "maxDuration"); md != "" {
		v, err := domain.ParseDuration(md)
		if err != nil {
			return errInvalidValue("maxDuration: %v", err)
		}
		e.MaxDuration = v
	}
	return nil
}

func membersFrom(d map[string]any) ([]string, bool) {
	_, _, ok := lookup(d, "members")
	if !ok {
		return nil, false
	}
	var out []string
	for _, x := range getList(d, "members") {
		var id string
		switch m := x.(type) {
		case map[string]any:
			id = getStr(m, "value")
		case string:
			id = m
		}
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, true
}

// memberSteps grants the entitlement to new members and revokes it from those
// no longer listed.
func memberSteps(entID string, held, want []string) []engine.Step {
	var steps []engine.Step
	for _, id := range want {
		if !slices.Contains(held, id) {
			steps = append(steps, engine.Grant{IdentityID: id, EntitlementID: entID})
		}
	}
	for _, id := range held {
		if !slices.Contains(want, id) {
			steps = append(steps, engine.Revoke{IdentityID: id, EntitlementID: entID, Reason: "removed from the group by the IGA"})
		}
	}
	return steps
}

// Create implements scim.ResourceHandler. A new group is an unbound entitlement:
// it opens nothing until a key manager binds it to access objects.
func (g *groups) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	e := &domain.Entitlement{Meta: domain.Meta{ID: uuid.NewString()}, Criticality: domain.CriticalityMedium}
	if st := stateFrom(r); st != nil && st.client != nil {
		e.Origin = "scim:" + st.client.Name
	}
	if err := entitlementFrom(attrs, e); err != nil {
		return scim.Resource{}, err
	}
	steps := []engine.Step{engine.DefineEntitlement{Entitlement: e, Expect: 0}}
	if members, ok := membersFrom(attrs); ok {
		steps = append(steps, memberSteps(e.ID, nil, members)...)
	}
	if _, err := g.s.eng.Execute(r.Context(), actor(r), steps...); err != nil {
		return scim.Resource{}, g.s.toSCIM(r, err, http.MethodPost)
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = ""
	return g.Get(r2, e.ID)
}

func (g *groups) current(r *http.Request, id string) (*groupFacts, map[string]any, error) {
	ctx := r.Context()
	var f *groupFacts
	var d map[string]any
	err := g.s.st.View(ctx, func(tx store.Tx) error {
		e, err := store.Get[domain.Entitlement](ctx, tx, id)
		if err != nil {
			return err
		}
		fs, people, err := loadGroupsNames(ctx, tx, []*domain.Entitlement{e}, false)
		if err != nil {
			return err
		}
		f = fs[0]
		d = withMeta(g.s.groupDoc(f, people, true), e.Meta, e.ExternalID, "Group")
		return nil
	})
	return f, d, err
}

func (g *groups) commit(r *http.Request, f *groupFacts, e *domain.Entitlement, steps []engine.Step, method string) error {
	var all []engine.Step
	if e.Name != f.ent.Name || e.ExternalID != f.ent.ExternalID || e.Description != f.ent.Description ||
		e.Owner != f.ent.Owner || e.Criticality != f.ent.Criticality || e.MaxDuration != f.ent.MaxDuration {
		all = append(all, engine.DefineEntitlement{Entitlement: e, Expect: expectFor(r, f.ent.Version)})
	}
	// An unchanged rename (Okta sends one with every membership update,
	// iga.md BUG-48) costs a read and nothing else.
	all = append(all, steps...)
	if len(all) == 0 {
		return nil
	}
	if _, err := g.s.eng.Execute(r.Context(), actor(r), all...); err != nil {
		return g.s.toSCIM(r, err, method)
	}
	return nil
}

// Replace implements scim.ResourceHandler (PUT). Members change only when the
// body has members (an empty list clears them).
func (g *groups) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	f, _, err := g.current(r, id)
	if err != nil {
		return scim.Resource{}, g.s.toSCIM(r, err, http.MethodGet)
	}
	if err := checkIfMatch(r, versionWithGrants(f.ent.Version, f.grants)); err != nil {
		return scim.Resource{}, err
	}
	e := *f.ent
	if err := entitlementFrom(attrs, &e); err != nil {
		return scim.Resource{}, err
	}
	var steps []engine.Step
	if members, ok := membersFrom(attrs); ok {
		steps = memberSteps(id, f.members, members)
	}
	if err := g.commit(r, f, &e, steps, http.MethodPut); err != nil {
		return scim.Resource{}, err
	}
	return g.Get(r, id)
}

// Patch implements scim.ResourceHandler. It answers 204 (iga.md BUG-35: Entra
// expects it, and a large member list is not worth sending back).
func (g *groups) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	f, doc, err := g.current(r, id)
	if err != nil {
		return scim.Resource{}, g.s.toSCIM(r, err, http.MethodGet)
	}
	if err := checkIfMatch(r, versionWithGrants(f.ent.Version, f.grants)); err != nil {
		return scim.Resource{}, err
	}
	if err := g.s.groups.applyPatch(doc, ops); err != nil {
		return scim.Resource{}, err
	}
	e := *f.ent
	if err := entitlementFrom(doc, &e); err != nil {
		return scim.Resource{}, err
	}
	members, _ := membersFrom(doc)
	if err := g.commit(r, f, &e, memberSteps(id, f.members, members), http.MethodPatch); err != nil {
		return scim.Resource{}, err
	}
	return scim.Resource{}, nil
}

// Delete implements scim.ResourceHandler: every grant the entitlement carries
// is revoked, audited, and the entitlement removed.
func (g *groups) Delete(r *http.Request, id string) error {
	expect := int64(0)
	if r.Header.Get("If-Match") != "" {
		f, _, err := g.current(r, id)
		if err != nil {
			return g.s.toSCIM(r, err, http.MethodDelete)
		}
		if err := checkIfMatch(r, versionWithGrants(f.ent.Version, f.grants)); err != nil {
			return err
		}
		expect = f.ent.Version
	}
	if _, err := g.s.eng.Execute(r.Context(), actor(r), engine.DeleteEntitlement{ID: id, Expect: expect}); err != nil {
		return g.s.toSCIM(r, err, http.MethodDelete)
	}
	return nil
}
