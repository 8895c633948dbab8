// Package estate reads the estate file (lock systems, the asset tree, which locks
// belong to which asset, entitlements and their bindings, policies, allowed exposure
// per criticality), shows its difference with the store, and applies it as one
// audited command.
//
// An example:
//
//	exposure: {critical: 24h, high: 72h}
//	lockSystems:
//	  - {id: iloq-north, name: iLOQ North, vendor: iloq, canBlock: true}
//	assets:
//	  - {id: north, name: North region, kind: region, criticality: high}
//	  - {id: sub-n01, name: Substation N01, kind: substation, parent: north, criticality: critical}
//	locks:
//	  - {lockSystem: iloq-north, vendorId: L-0001, name: N01 gate, asset: sub-n01}
//	entitlements:
//	  - id: north-substations
//	    name: North substations 24/7
//	    owner: grid-ops-north@example.com
//	    criticality: critical
//	    assets: [north]
//	    maxDuration: 90d
//	    bindings:
//	      - {lockSystem: iloq-north, accessObjects: [SA-NORTH]}
//	policies:
//	  - id: fe-north
//	    name: Field engineers North
//	    match: [{attribute: function, values: [field engineer]}, {attribute: location, values: [north]}]
//	    entitlements: [north-substations]
package estate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// File is the estate file's schema.
type File struct {
	Exposure     map[string]string `yaml:"exposure"`
	LockSystems  []LockSystem      `yaml:"lockSystems"`
	Assets       []Asset           `yaml:"assets"`
	Locks        []Lock            `yaml:"locks"`
	Entitlements []Entitlement     `yaml:"entitlements"`
	Policies     []Policy          `yaml:"policies"`
}

// line records where an item stands in the file.
type line struct{ Line int }

// LockSystem declares one lock system.
type LockSystem struct {
	line        `yaml:"-"`
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Vendor      string `yaml:"vendor"`
	CorrelateBy string `yaml:"correlateBy"`
	CanBlock    bool   `yaml:"canBlock"`
}

// Asset declares one asset; Parent names the asset above it.
type Asset struct {
	line        `yaml:"-"`
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Kind        string `yaml:"kind"`
	Parent      string `yaml:"parent"`
	Criticality string `yaml:"criticality"`
	Description string `yaml:"description"`
	Owner       string `yaml:"owner"`
}

// Lock places a lock of a lock system in an asset.
type Lock struct {
	line       `yaml:"-"`
	LockSystem string `yaml:"lockSystem"`
	VendorID   string `yaml:"vendorId"`
	Name       string `yaml:"name"`
	Asset      string `yaml:"asset"`
}

// Binding binds an entitlement in one lock system.
type Binding struct {
	LockSystem    string   `yaml:"lockSystem"`
	AccessObjects []string `yaml:"accessObjects"`
}

// Window is a weekly window: days as mon..sun.
type Window struct {
	Days []string `yaml:"days"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
}

// Schedule is a weekly schedule.
type Schedule struct {
	TimeZone string   `yaml:"timeZone"`
	Windows  []Window `yaml:"windows"`
}

// Entitlement declares one entitlement.
type Entitlement struct {
	line        `yaml:"-"`
	ID          string    `yaml:"id"`
	Name        string    `yaml:"name"`
	Description string    `yaml:"description"`
	Owner       string    `yaml:"owner"`
	Criticality string    `yaml:"criticality"`
	Assets      []string  `yaml:"assets"`
	MaxDuration string    `yaml:"maxDuration"`
	Schedule    *Schedule `yaml:"schedule"`
	Bindings    []Binding `yaml:"bindings"`
}

// Policy declares one policy.
type Policy struct {
	line             `yaml:"-"`
	ID               string             `yaml:"id"`
	Name             string             `yaml:"name"`
	Description      string             `yaml:"description"`
	Match            []domain.Condition `yaml:"match"`
	Entitlements     []string           `yaml:"entitlements"`
	DefaultValidity  string             `yaml:"defaultValidity"`
	RequiresApproval bool               `yaml:"requiresApproval"`
}

// itemLines returns the line of each item of the top-level sequence under key.
func itemLines(root *yaml.Node, key string) []int {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == key {
			var out []int
			for _, it := range doc.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}

func setLines[T any](items []T, lines []int, get func(*T) *line) {
	for i := range items {
		if i < len(lines) {
			get(&items[i]).Line = lines[i]
		}
	}
}

// ProblemsError lists every problem found in an estate file, each with its place.
type ProblemsError struct {
	File     string
	Problems []string
}

func (e *ProblemsError) Error() string {
	return fmt.Sprintf("%s: %d problem(s):\n  %s", e.File, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Is makes a ProblemsError an ErrInvalid.
func (e *ProblemsError) Is(target error) bool { return target == domain.ErrInvalid }

// Load reads and validates an estate file.
func Load(path string) (*Estate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Estate is a validated estate, as domain resources.
type Estate struct {
	Settings     []*domain.Setting
	LockSystems  []*domain.LockSystem
	Assets       []*domain.Asset
	Locks        []*domain.Lock
	Entitlements []*domain.Entitlement
	Policies     []*domain.Policy
}

var weekdays = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// Parse decodes and validates an estate file's content; every problem is reported
// with its line.
func Parse(name string, b []byte) (*Estate, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, &ProblemsError{File: name, Problems: te.Errors}
		}
		return nil, &ProblemsError{File: name, Problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root)
	setLines(f.LockSystems, itemLines(&root, "lockSystems"), func(x *LockSystem) *line { return &x.line })
	setLines(f.Assets, itemLines(&root, "assets"), func(x *Asset) *line { return &x.line })
	setLines(f.Locks, itemLines(&root, "locks"), func(x *Lock) *line { return &x.line })
	setLines(f.Entitlements, itemLines(&root, "entitlements"), func(x *Entitlement) *line { return &x.line })
	setLines(f.Policies, itemLines(&root, "policies"), func(x *Policy) *line { return &x.line })
	var p []string
	bad := func(l line, format string, args ...any) {
		p = append(p, fmt.Sprintf("line %d: %s", l.Line, fmt.Sprintf(format, args...)))
	}
	es := &Estate{}
	for _, c := range []domain.Criticality{domain.CriticalityLow, domain.CriticalityMedium, domain.CriticalityHigh, domain.CriticalityCritical} {
		v, ok := f.Exposure[string(c)]
		if !ok {
			continue
		}
		if _, err := domain.ParseDuration(v); err != nil {
			p = append(p, fmt.Sprintf("exposure.%s: %v", c, err))
		}
		es.Settings = append(es.Settings, &domain.Setting{Meta: domain.Meta{ID: engine.SettingExposurePrefix + string(c)}, Value: v})
	}
	for k := range f.Exposure {
		if !domain.Criticality(k).Valid() {
			p = append(p, fmt.Sprintf("exposure: %q is not a criticality (low, medium, high, critical)", k))
		}
	}
	lsIDs := map[string]bool{}
	for _, x := range f.LockSystems {
		if x.ID == "" {
			bad(x.line, "lock system: id is required")
		} else if lsIDs[x.ID] {
			bad(x.line, "lock system %q: declared twice", x.ID)
		}
		lsIDs[x.ID] = true
		if x.Vendor == "" {
			bad(x.line, "lock system %q: vendor is required", x.ID)
		}
		switch x.CorrelateBy {
		case "", "employeeNumber", "externalId", "userName", "email":
		default:
			bad(x.line, "lock system %q: correlateBy must be employeeNumber, externalId, userName or email", x.ID)
		}
		name := x.Name
		if name == "" {
			name = x.ID
		}
		es.LockSystems = append(es.LockSystems, &domain.LockSystem{Meta: domain.Meta{ID: x.ID}, Name: name, Vendor: x.Vendor, CorrelateBy: x.CorrelateBy, CanBlock: x.CanBlock})
	}
	assetIDs := map[string]bool{}
	for _, x := range f.Assets {
		if x.ID == "" {
			bad(x.line, "asset: id is required")
		} else if assetIDs[x.ID] {
			bad(x.line, "asset %q: declared twice", x.ID)
		}
		assetIDs[x.ID] = true
	}
	for _, x := range f.Assets {
		if x.Parent != "" && !assetIDs[x.Parent] {
			bad(x.line, "asset %q: unknown parent %q", x.ID, x.Parent)
		}
		c := domain.Criticality(x.Criticality)
		if c == "" {
			c = domain.CriticalityMedium
		} else if !c.Valid() {
			bad(x.line, "asset %q: criticality %q is not low, medium, high or critical", x.ID, x.Criticality)
		}
		name := x.Name
		if name == "" {
			name = x.ID
		}
		es.Assets = append(es.Assets, &domain.Asset{Meta: domain.Meta{ID: x.ID}, Name: name, AssetKind: domain.AssetKind(x.Kind), ParentID: x.Parent, Criticality: c, Description: x.Description, Owner: x.Owner})
	}
	if cyc := cycle(f.Assets); cyc != "" {
		p = append(p, "assets: the parent chain loops at "+cyc)
	}
	seenLock := map[string]bool{}
	for _, x := range f.Locks {
		if !lsIDs[x.LockSystem] {
			bad(x.line, "lock %q: unknown lock system %q", x.VendorID, x.LockSystem)
		}
		if x.VendorID == "" {
			bad(x.line, "lock: vendorId is required")
		}
		if x.Asset != "" && !assetIDs[x.Asset] {
			bad(x.line, "lock %q: unknown asset %q", x.VendorID, x.Asset)
		}
		id := engine.KeyID(x.LockSystem, x.VendorID)
		if seenLock[id] {
			bad(x.line, "lock %q: declared twice", id)
		}
		seenLock[id] = true
		es.Locks = append(es.Locks, &domain.Lock{Meta: domain.Meta{ID: id}, LockSystemID: x.LockSystem, VendorID: x.VendorID, Name: x.Name, AssetID: x.Asset})
	}
	entIDs, entNames := map[string]bool{}, map[string]bool{}
	for _, x := range f.Entitlements {
		if x.ID == "" {
			bad(x.line, "entitlement: id is required")
		} else if entIDs[x.ID] {
			bad(x.line, "entitlement %q: declared twice", x.ID)
		}
		entIDs[x.ID] = true
		if x.Name == "" {
			bad(x.line, "entitlement %q: name is required", x.ID)
		} else if entNames[strings.ToLower(x.Name)] {
			bad(x.line, "entitlement %q: name %q is used twice", x.ID, x.Name)
		}
		entNames[strings.ToLower(x.Name)] = true
		c := domain.Criticality(x.Criticality)
		if c == "" {
			c = domain.CriticalityMedium
		} else if !c.Valid() {
			bad(x.line, "entitlement %q: criticality %q is not low, medium, high or critical", x.ID, x.Criticality)
		}
		en := &domain.Entitlement{Meta: domain.Meta{ID: x.ID}, Name: x.Name, Description: x.Description, Owner: x.Owner, Criticality: c, AssetIDs: x.Assets, Origin: "estate"}
		for _, a := range x.Assets {
			if !assetIDs[a] {
				bad(x.line, "entitlement %q: unknown asset %q", x.ID, a)
			}
		}
		if x.MaxDuration != "" {
			d, err := domain.ParseDuration(x.MaxDuration)
			if err != nil {
				bad(x.line, "entitlement %q: maxDuration: %v", x.ID, err)
			}
			en.MaxDuration = d
		}
		for _, b := range x.Bindings {
			if !lsIDs[b.LockSystem] {
				bad(x.line, "entitlement %q: unknown lock system %q", x.ID, b.LockSystem)
			}
			if len(b.AccessObjects) == 0 {
				bad(x.line, "entitlement %q: binding to %q lists no access objects", x.ID, b.LockSystem)
			}
			en.Bindings = append(en.Bindings, domain.Binding{LockSystemID: b.LockSystem, AccessObjects: b.AccessObjects})
		}
		if x.Schedule != nil {
			s := &domain.Schedule{TimeZone: x.Schedule.TimeZone}
			for _, w := range x.Schedule.Windows {
				dw := domain.Window{From: w.From, To: w.To}
				for _, d := range w.Days {
					n, ok := weekdays[strings.ToLower(d)]
					if !ok {
						bad(x.line, "entitlement %q: schedule day %q is not one of mon..sun", x.ID, d)
					}
					dw.Days = append(dw.Days, time.Weekday(n))
				}
				s.Windows = append(s.Windows, dw)
			}
			if err := engine.ValidateSchedule(s); err != nil {
				bad(x.line, "entitlement %q: schedule: %v", x.ID, err)
			}
			en.Schedule = s
		}
		es.Entitlements = append(es.Entitlements, en)
	}
	polIDs := map[string]bool{}
	for _, x := range f.Policies {
		if x.ID == "" {
			bad(x.line, "policy: id is required")
		} else if polIDs[x.ID] {
			bad(x.line, "policy %q: declared twice", x.ID)
		}
		polIDs[x.ID] = true
		if len(x.Match) == 0 {
			bad(x.line, "policy %q: match is required (a policy for everyone must say so with a condition)", x.ID)
		}
		for _, c := range x.Match {
			if !slices.Contains(engine.PolicyAttributes, c.Attribute) {
				bad(x.line, "policy %q: attribute %q is not one of %s", x.ID, c.Attribute, strings.Join(engine.PolicyAttributes, ", "))
			}
			if len(c.Values) == 0 {
				bad(x.line, "policy %q: condition on %q lists no values", x.ID, c.Attribute)
			}
		}
		for _, e := range x.Entitlements {
			if !entIDs[e] {
				bad(x.line, "policy %q: unknown entitlement %q", x.ID, e)
			}
		}
		name := x.Name
		if name == "" {
			name = x.ID
		}
		pol := &domain.Policy{Meta: domain.Meta{ID: x.ID}, Name: name, Description: x.Description, Match: x.Match, Entitlements: x.Entitlements, RequiresApproval: x.RequiresApproval}
		if x.DefaultValidity != "" {
			d, err := domain.ParseDuration(x.DefaultValidity)
			if err != nil {
				bad(x.line, "policy %q: defaultValidity: %v", x.ID, err)
			}
			pol.DefaultValidity = d
		}
		es.Policies = append(es.Policies, pol)
	}
	if len(p) > 0 {
		return nil, &ProblemsError{File: name, Problems: p}
	}
	return es, nil
}

func cycle(as []Asset) string {
	parent := map[string]string{}
	for _, a := range as {
		parent[a.ID] = a.Parent
	}
	for _, a := range as {
		seen := map[string]bool{}
		for id := a.ID; id != ""; id = parent[id] {
			if seen[id] {
				return id
			}
			seen[id] = true
		}
	}
	return ""
}

// Change is one line of the difference.
type Change struct {
	Op     string // create, update, delete
	Kind   domain.Kind
	ID     string
	Detail string
}

func (c Change) String() string {
	sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[c.Op]
	s := fmt.Sprintf("%s %s %s", sign, c.Kind, c.ID)
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// Diff compares the estate with the store and returns the changes applying it would
// make, and the steps that make them. Policies and estate-defined entitlements that
// the file no longer declares are deleted; lock systems, assets and locks are only
// added or updated.
func Diff(ctx context.Context, st store.Store, es *Estate) ([]Change, []engine.Step, error) {
	var changes []Change
	var steps []engine.Step
	err := st.View(ctx, func(tx store.Tx) error {
		changes, steps = nil, nil
		add := func(r domain.Resource, cmp func(cur domain.Resource) (domain.Resource, bool)) error {
			m := r.GetMeta()
			rec, err := tx.Get(ctx, r.Kind(), m.ID)
			if errors.Is(err, domain.ErrNotFound) {
				changes = append(changes, Change{Op: "create", Kind: r.Kind(), ID: m.ID})
				steps = append(steps, stepFor(r, 0))
				return nil
			}
			if err != nil {
				return err
			}
			cur, err := decodeAs(rec, r)
			if err != nil {
				return err
			}
			next, same := cmp(cur)
			if same {
				return nil
			}
			changes = append(changes, Change{Op: "update", Kind: r.Kind(), ID: m.ID, Detail: fieldsChanged(cur, next)})
			steps = append(steps, stepFor(next, rec.Version))
			return nil
		}
		plain := func(r domain.Resource) func(domain.Resource) (domain.Resource, bool) {
			return func(cur domain.Resource) (domain.Resource, bool) { return r, sameContent(cur, r) }
		}
		for _, s := range es.Settings {
			if err := add(s, plain(s)); err != nil {
				return err
			}
		}
		for _, r := range es.LockSystems {
			if err := add(r, plain(r)); err != nil {
				return err
			}
		}
		for _, r := range parentsFirst(es.Assets) {
			if err := add(r, plain(r)); err != nil {
				return err
			}
		}
		for _, r := range es.Locks {
			r := r
			if err := add(r, func(c domain.Resource) (domain.Resource, bool) {
				cur := c.(*domain.Lock)
				next := *cur
				next.AssetID = r.AssetID
				if r.Name != "" {
					next.Name = r.Name
				}
				return &next, next.AssetID == cur.AssetID && next.Name == cur.Name
			}); err != nil {
				return err
			}
		}
		for _, r := range es.Entitlements {
			r := r
			if err := add(r, func(c domain.Resource) (domain.Resource, bool) {
				cur := c.(*domain.Entitlement)
				next := *r
				next.ExternalID = cur.ExternalID
				return &next, sameContent(cur, &next)
			}); err != nil {
				return err
			}
		}
		for _, r := range es.Policies {
			if err := add(r, plain(r)); err != nil {
				return err
			}
		}
		// Deletions: what the estate defined before and no longer declares.
		pols, err := store.All[domain.Policy](ctx, tx, nil)
		if err != nil {
			return err
		}
		for _, p := range pols {
			if !slices.ContainsFunc(es.Policies, func(x *domain.Policy) bool { return x.ID == p.ID }) {
				changes = append(changes, Change{Op: "delete", Kind: domain.KindPolicy, ID: p.ID})
				steps = append(steps, engine.DeleteResource{Kind: domain.KindPolicy, ID: p.ID, Expect: p.Version})
			}
		}
		ents, err := store.All[domain.Entitlement](ctx, tx, nil)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.Origin == "estate" && !slices.ContainsFunc(es.Entitlements, func(x *domain.Entitlement) bool { return x.ID == e.ID }) {
				changes = append(changes, Change{Op: "delete", Kind: domain.KindEntitlement, ID: e.ID, Detail: "revokes its grants"})
				steps = append(steps, engine.DeleteEntitlement{ID: e.ID, Expect: e.Version})
			}
		}
		return nil
	})
	return changes, steps, err
}

func stepFor(r domain.Resource, version int64) engine.Step {
	if en, ok := r.(*domain.Entitlement); ok {
		return engine.DefineEntitlement{Entitlement: en, Expect: version}
	}
	return engine.PutResource{Resource: r, Expect: version}
}

func decodeAs(rec store.Record, like domain.Resource) (domain.Resource, error) {
	var r domain.Resource
	switch like.(type) {
	case *domain.Setting:
		r = &domain.Setting{}
	case *domain.LockSystem:
		r = &domain.LockSystem{}
	case *domain.Asset:
		r = &domain.Asset{}
	case *domain.Lock:
		r = &domain.Lock{}
	case *domain.Entitlement:
		r = &domain.Entitlement{}
	case *domain.Policy:
		r = &domain.Policy{}
	default:
		return nil, fmt.Errorf("estate: unexpected kind %s", like.Kind())
	}
	if err := json.Unmarshal(rec.Data, r); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", rec.Kind, rec.ID, err)
	}
	*r.GetMeta() = domain.Meta{ID: rec.ID, Version: rec.Version, Created: rec.Created, Modified: rec.Modified}
	return r, nil
}

// content is a resource's JSON without its meta.
func content(r domain.Resource) map[string]any {
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "version", "created", "modified"} {
		delete(m, k)
	}
	return m
}

func sameContent(a, b domain.Resource) bool {
	x, _ := json.Marshal(content(a))
	y, _ := json.Marshal(content(b))
	return bytes.Equal(x, y)
}

func fieldsChanged(a, b domain.Resource) string {
	ca, cb := content(a), content(b)
	var out []string
	for k := range cb {
		x, _ := json.Marshal(ca[k])
		y, _ := json.Marshal(cb[k])
		if !bytes.Equal(x, y) {
			out = append(out, k)
		}
	}
	for k := range ca {
		if _, ok := cb[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(slices.Compact(out), ", ")
}

func parentsFirst(as []*domain.Asset) []*domain.Asset {
	depth := map[string]int{}
	byID := map[string]*domain.Asset{}
	for _, a := range as {
		byID[a.ID] = a
	}
	var d func(string, int) int
	d = func(id string, n int) int {
		a := byID[id]
		if a == nil || a.ParentID == "" || n > 64 {
			return 0
		}
		return 1 + d(a.ParentID, n+1)
	}
	out := slices.Clone(as)
	for _, a := range out {
		depth[a.ID] = d(a.ID, 0)
	}
	slices.SortStableFunc(out, func(x, y *domain.Asset) int { return depth[x.ID] - depth[y.ID] })
	return out
}

// Apply applies the steps of a Diff as one command.
func Apply(ctx context.Context, eng *engine.Engine, actor engine.Actor, steps []engine.Step) error {
	if len(steps) == 0 {
		return nil
	}
	_, err := eng.Execute(ctx, actor, steps...)
	return err
}
