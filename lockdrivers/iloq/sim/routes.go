package sim

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// gate is what a route needs before it runs.
type gate int

const (
	gatePublic    gate = iota // no session (GetUrl, CreateSession, Test, Version)
	gateSession               // a session (LockGroups, SetLockgroup, KillSession)
	gateLockGroup             // a session with a locking system selected
)

// call is one API request inside the state lock.
type call struct {
	r    *http.Request
	sess *session
}

func (c *call) id(name string) string { return c.r.PathValue(name) }

type handlerFunc func(c *call) (any, *apiError)

type recKey struct{}

// unchanged marks the call as changing nothing (a write repeating what is
// stored), for the request log.
func (c *call) unchanged() {
	if rec, ok := c.r.Context().Value(recKey{}).(*statusRecorder); ok {
		rec.noop = true
	}
}

// noContent marks a void answer (204 with no body).
type noContent struct{}

// readOnly lists the non-GET routes that change no stored state.
var readOnly = map[string]bool{
	"POST /api/v2/Url/GetUrl":                          true,
	"POST /api/v2/CreateSession":                       true,
	"POST /api/v2/SetLockgroup":                        true,
	"POST /api/v2/LockLogs":                            true,
	"POST /api/v2/LockLogs/GetLockLogDataByTimestamp":  true,
	"POST /api/v2/LockLogs/GetLockLogDataByGoingDates": true,
	"POST /api/v2/Keys/{id}/TimeLimitTitles/CanAdd":    true,
}

func (s *Server) handle(pattern string, g gate, right int64, fn handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	mutating := method != http.MethodGet && !readOnly[pattern]
	s.mux.HandleFunc(method+" "+strings.ToLower(path), func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*statusRecorder); ok {
			rec.op = pattern
			rec.target = r.PathValue("id")
			r = r.WithContext(context.WithValue(r.Context(), recKey{}, rec))
			defer func() { rec.changed = mutating && rec.status/100 == 2 && !rec.noop }()
		}
		s.serveAPI(w, r, g, right, fn)
	})
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, g gate, right int64, fn handlerFunc) {
	if s.opts.GatewayKey != "" && r.Header.Get(iloqapi.HeaderAPIKey) != s.opts.GatewayKey {
		writeError(w, http.StatusUnauthorized,
			"Access denied due to missing or invalid subscription key.")
		return
	}
	s.mu.Lock()
	out, aerr := s.runLocked(r, g, right, fn)
	// Assumption A10: the Date header carries the vendor server's clock
	// (here the simulated one); the driver dates effective-by from it.
	w.Header().Set("Date", s.now().Format(http.TimeFormat))
	s.mu.Unlock()
	s.kickWebhooks()
	if aerr != nil {
		writeError(w, aerr.status, aerr.msg)
		return
	}
	if _, ok := out.(noContent); ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) runLocked(r *http.Request, g gate, right int64, fn handlerFunc) (any, *apiError) {
	c := &call{r: r}
	if g != gatePublic {
		id := canon(r.Header.Get(iloqapi.HeaderSessionID))
		sess := s.st.sessions[id]
		now := s.now()
		if sess == nil || now.Sub(sess.lastUsed) > s.opts.SessionIdleTimeout {
			delete(s.st.sessions, id)
			return nil, errStatus(http.StatusUnauthorized, "Session is not valid.")
		}
		sess.lastUsed = now
		c.sess = sess
		if g == gateLockGroup && sess.lockGroup == "" {
			return nil, errStatus(http.StatusForbidden,
				"Locking system has not been set for the session. Call SetLockgroup first.")
		}
		if right != 0 && s.opts.RightsMask&right != right {
			return nil, errStatus(http.StatusForbidden, "User doesn't have required rights.")
		}
	}
	return fn(c)
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	const (
		P, S, L = gatePublic, gateSession, gateLockGroup
	)
	const (
		viewKeys   = iloqapi.RightViewKeyList
		editKeys   = iloqapi.RightEditKeys
		editAccess = iloqapi.RightEditKeyAccess
		order      = iloqapi.RightOrderKeys
		returns    = iloqapi.RightHandleKeyReturns
		blEdit     = iloqapi.RightEditBlacklist
		persons    = iloqapi.RightViewPersons
		editPers   = iloqapi.RightEditPersons
		locks      = iloqapi.RightBrowseLocks
		logs       = iloqapi.RightBrowseLockLogs
		admin      = iloqapi.RightAdministrate
	)
	// Authentication and meta.
	s.handle("POST /api/v2/Url/GetUrl", P, 0, s.getURL)
	s.handle("POST /api/v2/CreateSession", P, 0, s.createSession)
	s.handle("GET /api/v2/LockGroups", S, 0, s.lockGroups)
	s.handle("POST /api/v2/SetLockgroup", S, 0, s.setLockgroup)
	s.handle("GET /api/v2/KillSession", S, 0, s.killSession)
	s.handle("GET /api/v2/Test", P, 0, func(*call) (any, *apiError) { return "Test OK", nil })
	s.handle("GET /api/v2/Version", P, 0, func(*call) (any, *apiError) { return "7.5.0.0-sim", nil })

	// Persons.
	s.handle("GET /api/v2/Persons", L, persons, s.listPersons)
	s.handle("GET /api/v2/Persons/GetByExternalPersonIds", L, persons, s.personsByExternal)
	s.handle("GET /api/v2/Persons/{id}", L, persons, s.getPerson)
	s.handle("POST /api/v2/Persons", L, editPers, s.insertPerson)
	s.handle("PUT /api/v2/Persons", L, editPers, s.updatePerson)
	s.handle("GET /api/v2/Persons/{id}/CanDelete", L, editPers, s.canDeletePerson)
	s.handle("DELETE /api/v2/Persons/{id}", L, editPers, s.deletePerson)
	s.handle("GET /api/v2/Persons/{id}/Keys", L, viewKeys, s.personKeys)

	// Keys.
	s.handle("GET /api/v2/Keys", L, viewKeys, s.listKeys)
	s.handle("GET /api/v2/Keys/GetByRomIds", L, viewKeys, s.keysByROM)
	s.handle("GET /api/v2/Keys/{id}", L, viewKeys, s.getKey)
	s.handle("POST /api/v2/Keys", L, editKeys, s.insertKey)
	s.handle("PUT /api/v2/Keys", L, editKeys, s.updateKey)
	s.handle("GET /api/v2/Keys/{id}/CanDelete", L, editKeys, s.canDeleteKey)
	s.handle("DELETE /api/v2/Keys/{id}", L, editKeys, s.deleteKey)
	s.handle("GET /api/v2/Keys/{id}/CanOrder", L, order, s.canOrderKey)
	s.handle("POST /api/v2/Keys/{id}/Order", L, order, s.orderKey)
	s.handle("GET /api/v2/Keys/{id}/CanReturn", L, returns, s.canReturnKey)
	s.handle("POST /api/v2/Keys/{id}/Return", L, returns, s.returnKey)
	s.handle("GET /api/v2/Keys/{id}/CanUpdateMainZone", L, editKeys, s.canUpdateMainZone)
	s.handle("PUT /api/v2/Keys/{id}/UpdateMainZone", L, editKeys, s.updateMainZone)
	s.handle("POST /api/v2/Keys/{id}/UpdateMainZone", L, editKeys, s.updateMainZone)
	s.handle("GET /api/v2/Keys/{id}/Zones", L, viewKeys, s.keyZones)
	s.handle("GET /api/v2/Keys/{id}/KeyPhone", L, viewKeys, s.getKeyPhone)
	s.handle("PUT /api/v2/KeyPhones", L, editKeys, s.updateKeyPhone)
	s.handle("GET /api/v2/Keys/{id}/LocationReporting", L, viewKeys, s.getLocationReporting)
	s.handle("PUT /api/v2/Keys/{id}/LocationReporting", L, viewKeys, s.setLocationReporting)

	// Key access rights and time limits.
	s.handle("GET /api/v2/Keys/{id}/SecurityAccesses", L, viewKeys, s.keyAccesses)
	s.handle("PUT /api/v2/Keys/{id}/SecurityAccesses", L, editAccess, s.replaceKeyAccesses)
	s.handle("GET /api/v2/Keys/{id}/SecurityAccesses/CanAdd", L, editAccess, s.canAddKeyAccess)
	s.handle("POST /api/v2/Keys/{id}/SecurityAccesses", L, editAccess, s.addKeyAccess)
	s.handle("GET /api/v2/Keys/{id}/SecurityAccesses/{sa}/CanDelete", L, editAccess, s.canDeleteKeyAccess)
	s.handle("DELETE /api/v2/Keys/{id}/SecurityAccesses/{sa}", L, editAccess, s.deleteKeyAccess)
	s.handle("GET /api/v2/Keys/{id}/TimeLimitTitles", L, editAccess, s.keyTimeLimits)
	s.handle("POST /api/v2/Keys/{id}/TimeLimitTitles/CanAdd", L, editAccess, s.canAddKeyTimeLimit)
	s.handle("GET /api/v2/Keys/{id}/TimeLimitTitles/CanAdd", L, editAccess, s.canAddKeyTimeLimit)
	s.handle("POST /api/v2/Keys/{id}/TimeLimitTitles", L, editAccess, s.addKeyTimeLimit)
	s.handle("GET /api/v2/Keys/{id}/TimeLimitTitles/{tlt}", L, editAccess, s.getKeyTimeLimit)
	s.handle("PUT /api/v2/Keys/{id}/TimeLimitTitles/{tlt}", L, editAccess, s.updateKeyTimeLimit)
	s.handle("DELETE /api/v2/Keys/{id}/TimeLimitTitles/{tlt}", L, editAccess, s.deleteKeyTimeLimit)

	// Access rights, locks, structure, time profiles.
	// TODO: lock-side programming (PUT Locks/{id}/SecurityAccesses,
	// Locks/{id}/Order), calendars, network modules and key tags are not
	// simulated; those routes answer 404.
	s.handle("GET /api/v2/SecurityAccesses", L, 0, s.listAccesses)
	s.handle("POST /api/v2/SecurityAccesses", L, admin, s.insertAccess)
	s.handle("PUT /api/v2/SecurityAccesses", L, admin, s.updateAccess)
	s.handle("DELETE /api/v2/SecurityAccesses/{id}", L, admin, s.deleteAccess)
	s.handle("GET /api/v2/Locks", L, locks, s.listLocks)
	s.handle("GET /api/v2/Locks/{id}", L, locks, s.getLock)
	s.handle("GET /api/v2/Locks/{id}/SecurityAccesses", L, locks, s.lockAccesses)
	s.handle("GET /api/v2/Zones", L, 0, s.listZones)
	s.handle("GET /api/v2/RealEstates", L, 0, s.listEstates)
	s.handle("GET /api/v2/TimeLimitTitles", L, viewKeys, s.listTitles)
	s.handle("GET /api/v2/TimeLimitTitles/{id}", L, viewKeys, s.getTitle)
	s.handle("GET /api/v2/TimeLimitTitles/{id}/TimeLimitData", L, viewKeys, s.getTitleData)
	s.handle("POST /api/v2/TimeLimitTitles", L, editAccess, s.insertTitle)
	s.handle("GET /api/v2/TimeLimitTitles/{id}/CanDelete", L, editAccess, s.canDeleteTitle)
	s.handle("DELETE /api/v2/TimeLimitTitles/{id}", L, editAccess, s.deleteTitle)

	// Blocklist.
	s.handle("GET /api/v2/Blacklists", L, blEdit, s.getBlocklist)
	s.handle("GET /api/v2/Blacklists/CanAddKey/{id}", L, blEdit, s.canBlocklistKey)
	s.handle("POST /api/v2/Blacklists/AddKey/{id}", L, blEdit, s.blocklistKey)
	s.handle("GET /api/v2/Blacklists/CanRemoveKey/{id}", L, blEdit, s.canUnblocklistKey)
	s.handle("DELETE /api/v2/Blacklists/RemoveKey/{id}", L, blEdit, s.unblocklistKey)
	s.handle("GET /api/v2/Blacklists/CanOrderS40Blacklist", L, blEdit, s.canOrderBlocklist)
	s.handle("POST /api/v2/Blacklists/OrderS40Blacklist", L, blEdit, s.orderBlocklist)

	// Lock logs.
	s.handle("POST /api/v2/LockLogs", L, logs, s.lockLogs)
	s.handle("POST /api/v2/LockLogs/GetLockLogDataByTimestamp", L, logs, s.lockLogsByTimestamp)
	s.handle("POST /api/v2/LockLogs/GetLockLogDataByGoingDates", L, logs, s.lockLogsByGoingDates)

	// Webhooks.
	s.handle("GET /api/v2/Webhooks/Events", L, admin, s.webhookEvents)
	s.handle("GET /api/v2/Webhooks/Subscriptions", L, admin, s.listSubscriptions)
	s.handle("POST /api/v2/Webhooks/Subscriptions", L, admin, s.addSubscription)
	s.handle("PUT /api/v2/Webhooks/Subscriptions", L, admin, s.updateSubscription)
	s.handle("GET /api/v2/Webhooks/Subscriptions/{id}", L, admin, s.getSubscription)
	s.handle("DELETE /api/v2/Webhooks/Subscriptions/{id}", L, admin, s.deleteSubscription)
	s.handle("GET /api/v2/Webhooks/Subscriptions/{id}/Payloads", L, admin, s.listPayloads)

	s.adminRoutes()
}

// Authentication.

func (s *Server) getURL(c *call) (any, *apiError) {
	var p iloqapi.GetURLParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if !strings.EqualFold(p.CustomerCode, s.opts.CustomerCode) {
		return "", nil
	}
	return s.opts.PoolURL, nil
}

func (s *Server) createSession(c *call) (any, *apiError) {
	var p iloqapi.CreateSessionParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if !strings.EqualFold(p.CustomerCode, s.opts.CustomerCode) ||
		p.UserName != s.opts.UserName || p.Password != s.opts.Password {
		return iloqapi.CreateSessionResult{Result: iloqapi.SessionInvalidCredentials}, nil
	}
	id := uuid.NewString()
	s.st.sessions[id] = &session{id: id, lastUsed: s.now()}
	return iloqapi.CreateSessionResult{Result: iloqapi.SessionOK, SessionID: id}, nil
}

// windowsZone names the locking system's zone the way iLOQ reports it.
func windowsZone(iana string) string {
	switch iana {
	case "Europe/Helsinki":
		return "FLE Standard Time"
	case "Europe/Berlin", "Europe/Amsterdam", "Europe/Stockholm":
		return "W. Europe Standard Time"
	case "Europe/London":
		return "GMT Standard Time"
	case "UTC":
		return "UTC"
	}
	return iana
}

func (s *Server) lockGroup() iloqapi.LockGroup {
	return iloqapi.LockGroup{LockGroupID: s.opts.LockGroupID, Name: s.opts.LockGroupName,
		OptionMask: s.opts.OptionMask, TimeZoneStandardName: windowsZone(s.opts.TimeZone)}
}

func (s *Server) lockGroups(*call) (any, *apiError) {
	return []iloqapi.LockGroup{s.lockGroup()}, nil
}

func (s *Server) setLockgroup(c *call) (any, *apiError) {
	var p iloqapi.SetLockgroupParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if canon(p.LockGroupID) != canon(s.opts.LockGroupID) {
		return nil, invalid("LockGroup_ID %q", p.LockGroupID)
	}
	c.sess.lockGroup = s.opts.LockGroupID
	return iloqapi.SetLockgroupResult{RightsMask: s.opts.RightsMask}, nil
}

func (s *Server) killSession(c *call) (any, *apiError) {
	delete(s.st.sessions, c.sess.id)
	return noContent{}, nil
}
