package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// GroupMapping maps one group of an existing directory to an entitlement.
type GroupMapping struct {
	// DN is the group's DN in the directory.
	DN string
	// Entitlement is the entitlement's id or name (names compare
	// case-insensitively).
	Entitlement string
}

// SourceConfig configures a directory source: an existing directory (Active
// Directory, OpenLDAP) whose group memberships become grants.
type SourceConfig struct {
	// Name identifies the directory; grants carry the source directory:<Name>.
	Name string
	// URL is ldap://host:port or ldaps://host:port.
	URL string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// TLS verifies the directory's certificate (nil: system roots).
	TLS *tls.Config
	// BindDN and Password are the reading account (empty: anonymous).
	BindDN   string
	Password string
	// Groups are the watched groups.
	Groups []GroupMapping
	// MemberAttribute holds the members' DNs on a group: member (default) or
	// uniqueMember.
	MemberAttribute string
	// PeopleBase, when set, is searched (subtree, RFC 2696 paged, PageSize
	// entries a page) on the first poll and every FullEvery-th for the match
	// attribute of every entry under it, so that members need no read each; members
	// outside it are read one by one.
	PeopleBase string
	// PageSize is the page size of that search (default 500).
	PageSize uint32
	// MatchAttribute is read from each member's entry to find the identity
	// (default employeeNumber).
	MatchAttribute string
	// IdentityAttribute is the identity attribute it must equal, as the store
	// indexes it (default employeeNumber; also userName, externalId,
	// emails.value, correlationKey).
	IdentityAttribute string
	// Interval between polls (default 5 minutes).
	Interval time.Duration
	// FullEvery makes every n-th poll compare every group, even those whose
	// modifyTimestamp and uSNChanged did not move (default 12); members' match
	// values are re-read then too.
	FullEvery int
	// GracePeriod is how long a group may be missing from the directory before
	// the grants it gave are revoked (default 24 hours). Until then every poll
	// logs a warning; nothing is revoked silently.
	GracePeriod time.Duration
	// Logger receives the source's log lines.
	Logger *slog.Logger
}

func (c *SourceConfig) defaults() error {
	var p domain.Problems
	if c.Name == "" {
		p.Addf("name: required")
	}
	if c.URL == "" {
		p.Addf("url: required")
	}
	if len(c.Groups) == 0 {
		p.Addf("groups: at least one group")
	}
	for i, g := range c.Groups {
		if _, err := goldap.ParseDN(g.DN); err != nil || g.DN == "" {
			p.Addf("groups[%d].dn: %q is not a DN", i, g.DN)
		}
		if g.Entitlement == "" {
			p.Addf("groups[%d].entitlement: required", i)
		}
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("ldap source: %w", err)
	}
	if c.MemberAttribute == "" {
		c.MemberAttribute = "member"
	}
	if c.MatchAttribute == "" {
		c.MatchAttribute = "employeeNumber"
	}
	if c.IdentityAttribute == "" {
		c.IdentityAttribute = "employeeNumber"
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Minute
	}
	if c.PageSize == 0 {
		c.PageSize = 500
	}
	if c.FullEvery <= 0 {
		c.FullEvery = 12
	}
	if c.GracePeriod <= 0 {
		c.GracePeriod = 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Source watches groups in an existing directory and keeps the grants they imply:
// a member added becomes a grant, a member removed a revocation, both with the
// source directory:<Name>. Grants from other sources are never touched.
type Source struct {
	cfg  SourceConfig
	eng  *engine.Engine
	src  domain.Source
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	poll int
	// per group DN (normalised)
	marks   map[string]string    // modifyTimestamp/uSNChanged seen last
	missing map[string]time.Time // when the group was first found missing
	values  map[string]string    // member DN (normalised) → match value
}

// NewSource builds a directory source; Run or Sync use it.
func NewSource(eng *engine.Engine, cfg SourceConfig) (*Source, error) {
	if eng == nil {
		return nil, errors.New("ldap source: no engine")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Source{
		cfg: cfg, eng: eng, log: cfg.Logger.With("directory", cfg.Name),
		src:   domain.Source{Kind: domain.SourceDirectory, Name: cfg.Name},
		now:   time.Now,
		marks: map[string]string{}, missing: map[string]time.Time{}, values: map[string]string{},
	}, nil
}

// Run polls until ctx ends, logging failed polls and trying again next interval.
func (s *Source) Run(ctx context.Context) error {
	for {
		if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("directory poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.Interval):
		}
	}
}

// GroupReport says what one poll did with one group.
type GroupReport struct {
	DN      string
	Skipped bool // unchanged since the last poll
	Missing bool // not in the directory
	Granted []string
	Revoked []string
	// Unmatched lists member DNs that match no identity (or an inactive one).
	Unmatched []string
	Err       error
}

// Sync polls the directory once.
func (s *Source) Sync(ctx context.Context) ([]GroupReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poll++
	full := s.poll%s.cfg.FullEvery == 1 || s.cfg.FullEvery == 1
	if full {
		s.values = map[string]string{}
	}
	conn, err := s.dial()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if full && s.cfg.PeopleBase != "" {
		if err := s.loadPeople(conn); err != nil {
			return nil, err
		}
	}
	var out []GroupReport
	for _, g := range s.cfg.Groups {
		r := s.syncGroup(ctx, conn, g, full)
		if r.Err != nil {
			s.log.Warn("directory group not synchronised", "group", g.DN, "err", r.Err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Source) dial() (*goldap.Conn, error) {
	tc := s.cfg.TLS
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	conn, err := goldap.DialURL(s.cfg.URL, goldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, fmt.Errorf("ldap source %s: connect: %w", s.cfg.Name, err)
	}
	conn.SetTimeout(30 * time.Second)
	if s.cfg.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ldap source %s: StartTLS: %w", s.cfg.Name, err)
		}
	}
	if s.cfg.BindDN != "" {
		if err := conn.Bind(s.cfg.BindDN, s.cfg.Password); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ldap source %s: bind: %w", s.cfg.Name, err)
		}
	}
	return conn, nil
}

func (s *Source) syncGroup(ctx context.Context, conn *goldap.Conn, g GroupMapping, full bool) GroupReport {
	r := GroupReport{DN: g.DN}
	key := normDN(g.DN)
	ent, err := s.entitlement(ctx, g.Entitlement)
	if err != nil {
		r.Err = err
		return r
	}
	res, err := conn.Search(goldap.NewSearchRequest(g.DN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{s.cfg.MemberAttribute, "modifyTimestamp", "uSNChanged"}, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0) {
		r.Missing = true
		r.Revoked, r.Err = s.groupMissing(ctx, key, g, ent)
		return r
	}
	if err != nil {
		r.Err = fmt.Errorf("read group: %w", err)
		return r
	}
	delete(s.missing, key)
	e := res.Entries[0]
	mark := e.GetAttributeValue("modifyTimestamp") + "/" + e.GetAttributeValue("uSNChanged")
	if !full && mark != "/" && s.marks[key] == mark {
		r.Skipped = true
		return r
	}
	// TODO: Active Directory returns at most 1500 values of member per read
	// ("member;range=0-1499"); larger AD groups are read incomplete, so members
	// beyond the first 1500 get no grant.
	want := map[string]bool{}
	for _, dn := range e.GetAttributeValues(s.cfg.MemberAttribute) {
		id, ok, err := s.identityOf(ctx, conn, dn)
		if err != nil {
			r.Err = err
			return r
		}
		if !ok {
			r.Unmatched = append(r.Unmatched, dn)
			continue
		}
		want[id] = true
	}
	if err := s.apply(ctx, ent, g.DN, want, &r); err != nil {
		r.Err = err
		return r
	}
	if len(r.Unmatched) > 0 {
		s.log.Info("directory members without an active identity", "group", g.DN, "count", len(r.Unmatched), "first", r.Unmatched[0])
	}
	s.marks[key] = mark
	return r
}

// groupMissing handles a group that is not in the directory: a warning each poll,
// and after the grace period the revocation of what it granted.
func (s *Source) groupMissing(ctx context.Context, key string, g GroupMapping, ent *domain.Entitlement) ([]string, error) {
	first, seen := s.missing[key]
	now := s.now()
	if !seen {
		first = now
		s.missing[key] = now
	}
	until := first.Add(s.cfg.GracePeriod)
	if now.Before(until) {
		s.log.Warn("directory group is missing; its grants will be revoked when the grace period ends",
			"group", g.DN, "entitlement", ent.Name, "missing_since", first, "revoke_at", until)
		return nil, nil
	}
	var r GroupReport
	if err := s.apply(ctx, ent, g.DN, map[string]bool{}, &r); err != nil {
		return nil, err
	}
	if len(r.Revoked) > 0 {
		s.log.Warn("directory group missing beyond its grace period: grants revoked", "group", g.DN, "entitlement", ent.Name, "revoked", len(r.Revoked))
	}
	return r.Revoked, nil
}

// apply makes the source's current grants on ent equal want, in one command.
func (s *Source) apply(ctx context.Context, ent *domain.Entitlement, groupDN string, want map[string]bool, r *GroupReport) error {
	var have map[string]bool
	err := s.eng.Store().View(ctx, func(tx store.Tx) error {
		grants, err := store.All[domain.Grant](ctx, tx, store.And{
			store.Eqf("entitlementId", ent.ID), store.Eqf("source", s.src.String()),
			store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))},
		})
		have = map[string]bool{}
		for _, g := range grants {
			have[g.IdentityID] = true
		}
		return err
	})
	if err != nil {
		return err
	}
	src := s.src
	var steps []engine.Step
	for _, id := range sortedKeys(want) {
		if !have[id] {
			steps = append(steps, engine.Grant{IdentityID: id, EntitlementID: ent.ID, Source: &src,
				Justification: "member of " + groupDN + " in directory " + s.cfg.Name})
			r.Granted = append(r.Granted, id)
		}
	}
	for _, id := range sortedKeys(have) {
		if !want[id] {
			steps = append(steps, engine.Revoke{IdentityID: id, EntitlementID: ent.ID, Source: &src,
				Reason: "no longer a member of " + groupDN + " in directory " + s.cfg.Name})
			r.Revoked = append(r.Revoked, id)
		}
	}
	if len(steps) == 0 {
		return nil
	}
	actor := engine.Actor{Name: s.src.String(), Source: s.src}
	if _, err := s.eng.Execute(ctx, actor, steps...); err != nil {
		r.Granted, r.Revoked = nil, nil
		return fmt.Errorf("apply memberships of %s: %w", groupDN, err)
	}
	s.log.Info("directory memberships applied", "group", groupDN, "entitlement", ent.Name, "granted", len(r.Granted), "revoked", len(r.Revoked))
	return nil
}

func (s *Source) entitlement(ctx context.Context, ref string) (*domain.Entitlement, error) {
	var out *domain.Entitlement
	err := s.eng.Store().View(ctx, func(tx store.Tx) error {
		en, err := store.Get[domain.Entitlement](ctx, tx, ref)
		if err == nil {
			out = en
			return nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		list, err := store.All[domain.Entitlement](ctx, tx, store.Compare{Attr: "name", Op: store.Eq, Value: ref})
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return domain.NotFound(domain.KindEntitlement, ref)
		}
		out = list[0]
		return nil
	})
	return out, err
}

// loadPeople reads the match attribute of every entry under PeopleBase with a
// paged search.
func (s *Source) loadPeople(conn *goldap.Conn) error {
	res, err := conn.SearchWithPaging(goldap.NewSearchRequest(s.cfg.PeopleBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"("+goldap.EscapeFilter(s.cfg.MatchAttribute)+"=*)", []string{s.cfg.MatchAttribute}, nil), s.cfg.PageSize)
	if err != nil {
		return fmt.Errorf("ldap source %s: read people under %s: %w", s.cfg.Name, s.cfg.PeopleBase, err)
	}
	for _, e := range res.Entries {
		s.values[normDN(e.DN)] = e.GetAttributeValue(s.cfg.MatchAttribute)
	}
	s.log.Debug("directory people read", "base", s.cfg.PeopleBase, "entries", len(res.Entries))
	return nil
}

// identityOf resolves a member DN to an active identity by the match attribute.
func (s *Source) identityOf(ctx context.Context, conn *goldap.Conn, dn string) (string, bool, error) {
	key := normDN(dn)
	v, ok := s.values[key]
	if !ok {
		res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{s.cfg.MatchAttribute}, nil))
		switch {
		case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		case err != nil:
			return "", false, fmt.Errorf("read member %s: %w", dn, err)
		case len(res.Entries) == 1:
			v = res.Entries[0].GetAttributeValue(s.cfg.MatchAttribute)
		}
		s.values[key] = v
	}
	if v == "" {
		return "", false, nil
	}
	var ids []*domain.Identity
	err := s.eng.Store().View(ctx, func(tx store.Tx) error {
		var err error
		ids, err = store.All[domain.Identity](ctx, tx, store.Compare{Attr: s.cfg.IdentityAttribute, Op: store.Eq, Value: v})
		return err
	})
	if err != nil {
		return "", false, err
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].ID < ids[j].ID })
	for _, in := range ids {
		if in.Active {
			return in.ID, true, nil
		}
	}
	return "", false, nil
}
