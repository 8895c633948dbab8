package sim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/keyward/keyward/lockdrivers/simctl"
)

// apiResult is what an API handler answers.
type apiResult struct {
	status  int
	body    any
	changed bool
}

func ok(body any) apiResult { return apiResult{status: http.StatusOK, body: body} }

func fail(status int, format string, args ...any) apiResult {
	return apiResult{status: status, body: map[string]string{"error": fmt.Sprintf(format, args...)}}
}

type apiHandler func(r *http.Request) apiResult

// Handler returns the simulator's HTTP handler: the vendor API under /v1/
// and the simctl admin endpoint under /admin/.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, op, target string, h apiHandler) {
		mux.Handle(pattern, s.wrap(op, target, h))
	}
	route("GET /v1/health", "health", "", func(*http.Request) apiResult { return ok(map[string]string{"status": "ok"}) })
	route("GET /v1/padlocks", "list-padlocks", "", func(r *http.Request) apiResult { return page(r, s.padlocks) })
	route("GET /v1/groups", "list-groups", "", func(r *http.Request) apiResult { return page(r, s.groups) })
	route("GET /v1/users", "list-users", "", s.listUsers)
	route("POST /v1/users", "create-user", "", s.createUser)
	route("GET /v1/credentials", "list-credentials", "", s.listCredentials)
	route("GET /v1/credentials/{id}", "get-credential", "id", s.getCredential)
	route("PUT /v1/credentials/{id}/access", "put-access", "id", s.putAccess)
	route("POST /v1/credentials/{id}/orders", "create-order", "id", s.createOrder)
	route("PUT /v1/credentials/{id}/holder", "put-holder", "id", s.putHolder)
	route("POST /v1/credentials/{id}/return", "return", "id", s.custody("returned"))
	route("POST /v1/credentials/{id}/lost", "lost", "id", s.custody("lost"))
	route("POST /v1/credentials/{id}/block", "block", "id", s.block(true))
	route("POST /v1/credentials/{id}/unblock", "unblock", "id", s.block(false))
	route("GET /v1/events", "list-events", "", s.listEvents)
	mux.Handle("/admin/", http.StripPrefix("/admin", simctl.NewHandler(s)))
	return mux
}

// wrap authenticates, serialises, answers and logs one API request.
func (s *Sim) wrap(op, target string, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		var res apiResult
		switch {
		case s.crashed:
			res = fail(http.StatusServiceUnavailable, "padlock cloud is unavailable")
		case subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.Token)) != 1:
			res = fail(http.StatusUnauthorized, "missing or wrong bearer token")
		default:
			res = h(r)
		}
		tgt := ""
		if target != "" {
			tgt = r.PathValue(target)
		}
		s.reqs = append(s.reqs, simctl.Request{
			Seq: int64(len(s.reqs) + 1), At: s.now, Method: r.Method, Path: r.URL.Path,
			Op: op, Target: tgt, Changed: res.changed, Status: res.status,
		})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.status)
		_ = json.NewEncoder(w).Encode(res.body)
	})
}

// page answers one page of items: ?cursor=<offset>&limit=<n> (default 50,
// at most 200); "next" is "" on the last page.
func page[T any](r *http.Request, items []T) apiResult {
	off, limit := 0, 50
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fail(http.StatusBadRequest, "cursor %q is not an offset", v)
		}
		off = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return fail(http.StatusBadRequest, "limit %q is not 1..200", v)
		}
		limit = n
	}
	off = min(off, len(items))
	end := min(off+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return ok(map[string]any{"items": items[off:end], "next": next})
}

func (s *Sim) listUsers(r *http.Request) apiResult {
	if ext := r.URL.Query().Get("external_id"); ext != "" {
		var found []*User
		for _, u := range s.users {
			if u.ExternalID == ext {
				found = append(found, u)
			}
		}
		return page(r, found)
	}
	return page(r, s.users)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (s *Sim) createUser(r *http.Request) apiResult {
	var u User
	if err := decode(r, &u); err != nil {
		return fail(http.StatusBadRequest, "user: %v", err)
	}
	if u.ExternalID == "" || u.Name == "" {
		return fail(http.StatusBadRequest, "user: external_id and name are required")
	}
	for _, o := range s.users {
		if o.ExternalID == u.ExternalID {
			return apiResult{status: http.StatusConflict, body: map[string]string{
				"error": "a user with external_id " + u.ExternalID + " exists", "id": o.ID,
			}}
		}
	}
	s.nUsers++
	u.ID = fmt.Sprintf("u-%d", s.nUsers)
	s.users = append(s.users, &u)
	return apiResult{status: http.StatusCreated, body: u, changed: true}
}

func (s *Sim) listCredentials(r *http.Request) apiResult {
	views := make([]Credential, len(s.creds))
	for i, c := range s.creds {
		views[i] = s.view(c)
	}
	return page(r, views)
}

func (s *Sim) getCredential(r *http.Request) apiResult {
	c := s.cred(r.PathValue("id"))
	if c == nil {
		return fail(http.StatusNotFound, "credential %s not found", r.PathValue("id"))
	}
	return ok(s.view(c))
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$`)

func (s *Sim) putAccess(r *http.Request) apiResult {
	c := s.cred(r.PathValue("id"))
	if c == nil {
		return fail(http.StatusNotFound, "credential %s not found", r.PathValue("id"))
	}
	var a Access
	if err := decode(r, &a); err != nil {
		return fail(http.StatusBadRequest, "access: %v", err)
	}
	for _, g := range a.Groups {
		if s.group(g) == nil {
			return fail(http.StatusNotFound, "group %s not found", g)
		}
	}
	for _, sl := range a.Schedule {
		if sl.Day < 0 || sl.Day > 6 || !hhmm.MatchString(sl.From) || !hhmm.MatchString(sl.To) || sl.From >= sl.To {
			return fail(http.StatusBadRequest, "schedule slot %+v is invalid", sl)
		}
	}
	if a.Groups == nil {
		a.Groups = []string{}
	}
	slices.Sort(a.Groups)
	a.Groups = slices.Compact(a.Groups)
	if c.Access.equal(a) {
		return ok(s.view(c))
	}
	c.Access = a
	c.Revision++
	return apiResult{status: http.StatusOK, body: s.view(c), changed: true}
}

func (s *Sim) createOrder(r *http.Request) apiResult {
	c := s.cred(r.PathValue("id"))
	if c == nil {
		return fail(http.StatusNotFound, "credential %s not found", r.PathValue("id"))
	}
	var body struct {
		Revision int `json:"revision"`
	}
	if err := decode(r, &body); err != nil {
		return fail(http.StatusBadRequest, "order: %v", err)
	}
	if body.Revision != c.Revision {
		return fail(http.StatusConflict, "revision %d is not the current revision %d", body.Revision, c.Revision)
	}
	if c.Order != nil && c.Order.State == "queued" {
		s.setOrderState(c.Order, "superseded")
	}
	s.nOrders++
	o := &Order{ID: fmt.Sprintf("ord-%d", s.nOrders), Credential: c.ID, Revision: c.Revision, Created: s.now}
	s.orders[o.ID] = o
	c.Order = o
	s.setOrderState(o, "queued")
	return apiResult{status: http.StatusCreated, body: *o, changed: true}
}

func (s *Sim) putHolder(r *http.Request) apiResult {
	c := s.cred(r.PathValue("id"))
	if c == nil {
		return fail(http.StatusNotFound, "credential %s not found", r.PathValue("id"))
	}
	var body struct {
		User string `json:"user"`
	}
	if err := decode(r, &body); err != nil {
		return fail(http.StatusBadRequest, "holder: %v", err)
	}
	if s.user(body.User) == nil {
		return fail(http.StatusNotFound, "user %s not found", body.User)
	}
	if c.Holder == body.User && c.State == "active" {
		return ok(s.view(c))
	}
	c.Holder, c.State = body.User, "active"
	s.emit(Event{Type: "credential.state", Credential: c.ID, State: c.State})
	return apiResult{status: http.StatusOK, body: s.view(c), changed: true}
}

func (s *Sim) custody(state string) apiHandler {
	return func(r *http.Request) apiResult {
		c := s.cred(r.PathValue("id"))
		if c == nil {
			return fail(http.StatusNotFound, "credential %s not found", r.PathValue("id"))
		}
		if c.State == state {
			return ok(s.view(c))
		}
		c.State = state
		if state == "returned" {
			c.Holder = ""
		}
		s.emit(Event{Type: "credential.state", Credential: c.ID, State: c.State})
		return apiResult{status: http.StatusOK, body: s.view(c), changed: true}
	}
}

// block puts a credential on (or takes it off) the blocklist of every
// padlock its programmed groups reach. Online padlocks apply it at once.
func (s *Sim) block(blocked bool) apiHandler {
	return func(r *http.Request) apiResult {
		c := s.cred(r.PathValue("id"))
		if c == nil {
			return fail(http.StatusNotFound, "credential %s not found", r.PathValue("id"))
		}
		if c.Blocked == blocked {
			return ok(s.blockView(c))
		}
		c.Blocked = blocked
		s.nBlocks++
		c.blockChange = fmt.Sprintf("blk-%d", s.nBlocks)
		if s.blocks[c.ID] == nil {
			s.blocks[c.ID] = map[string]*BlockEntry{}
		}
		for _, p := range s.padlocks {
			reach := false
			for _, gid := range append(slices.Clone(c.Programmed.Groups), c.Access.Groups...) {
				if g := s.group(gid); g != nil && slices.Contains(g.Padlocks, p.ID) {
					reach = true
				}
			}
			e := s.blocks[c.ID][p.ID]
			if !reach && e == nil {
				continue
			}
			if e == nil {
				e = &BlockEntry{Padlock: p.ID}
				s.blocks[c.ID][p.ID] = e
			}
			e.Blocked, e.State, e.At = blocked, "pending", s.now
			if p.Online {
				e.State = "applied"
				s.emit(Event{Type: "block.applied", Credential: c.ID, Padlock: p.ID, Blocked: blocked, State: "applied"})
			}
		}
		s.emit(Event{Type: "credential.state", Credential: c.ID, State: c.State, Blocked: blocked})
		return apiResult{status: http.StatusOK, body: s.blockView(c), changed: true}
	}
}

type blockView struct {
	ChangeID string       `json:"change_id"`
	Blocked  bool         `json:"blocked"`
	Locks    []BlockEntry `json:"locks"`
	At       time.Time    `json:"at"`
}

func (s *Sim) blockView(c *Credential) blockView {
	v := blockView{ChangeID: c.blockChange, Blocked: c.Blocked, At: s.now, Locks: []BlockEntry{}}
	for _, p := range s.padlocks {
		if e := s.blocks[c.ID][p.ID]; e != nil {
			v.Locks = append(v.Locks, *e)
		}
	}
	return v
}

func (s *Sim) listEvents(r *http.Request) apiResult {
	after := int64(0)
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fail(http.StatusBadRequest, "after %q is not a sequence number", v)
		}
		after = n
	}
	limit := 500
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2000 {
			return fail(http.StatusBadRequest, "limit %q is not 1..2000", v)
		}
		limit = n
	}
	start := min(int(after), len(s.events))
	end := min(start+limit, len(s.events))
	return ok(map[string]any{"events": s.events[start:end]})
}
