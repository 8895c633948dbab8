package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Options configure a simulator. The zero value works: one locking system
// with the Public API, API access rights, S50 and 5 Series enabled, user
// "api.user" / "secret" for customer code "ILOQ_SIM", no gateway key.
type Options struct {
	// CustomerCode is the service code accepted by GetUrl and CreateSession.
	CustomerCode string
	// UserName and Password are the accepted credentials.
	UserName, Password string
	// GatewayKey, when set, must be sent as x-api-key on every request.
	GatewayKey string
	// PoolURL is what Url/GetUrl answers; empty means the empty string,
	// which tells the client to keep its manager URL.
	PoolURL string
	// LockGroupID, LockGroupName and TimeZone describe the one locking
	// system. TimeZone is an IANA name (default "Europe/Helsinki"); the
	// matching Windows name is reported as TimeZoneStandardName.
	LockGroupID, LockGroupName, TimeZone string
	// OptionMask overrides the locking system's option bits.
	OptionMask int64
	// RightsMask is what SetLockgroup answers and what the simulator
	// enforces (default iloqapi.RightsAll).
	RightsMask int64
	// Now is the base clock (default time.Now). Advance adds to it.
	Now func() time.Time
	// SessionIdleTimeout ends sessions not used for this long
	// (Assumption A2: 30 minutes).
	SessionIdleTimeout time.Duration
	// LicenceLimit is the number of keys that may ever be ordered through
	// the API; 0 means unlimited.
	LicenceLimit int
	// MaxAccessesPerKey caps security accesses per key (CanAdd 3);
	// default 64 (Assumption A6).
	MaxAccessesPerKey int
	// MaxKeyNumber, when set, is the largest numeric key id the API can
	// order (CanOrder 5 above it).
	MaxKeyNumber int
	// BlocklistNeedsManager makes CanOrderS40Blacklist answer 1.
	BlocklistNeedsManager bool
	// WebhookClient sends webhooks (default: 5 s timeout, as documented).
	WebhookClient *http.Client
	// Logger receives the simulator's own log lines (default: discard).
	Logger *slog.Logger
	// LogRowCap overrides the 2000-row cap of lock-log answers (tests use
	// a small cap to page through few rows quickly).
	LogRowCap int
	// LogsByGoingDate makes GetLockLogDataByTimestamp order (and cap) its
	// rows by access time instead of arrival time: the docs leave the order
	// open, and a client must not rely on it.
	LogsByGoingDate bool
	// WebhookSignKey is the SignKey of the implicit keyward subscription
	// whose deliveries Webhooks returns (default DefaultWebhookSignKey).
	WebhookSignKey string
}

// DefaultWebhookSignKey signs the implicit keyward subscription.
const DefaultWebhookSignKey = "6B7D2C1A-3F4E-4A5B-9C8D-7E6F5A4B3C2D"

// Server is the simulator. It is an http.Handler and safe for concurrent use.
type Server struct {
	opts   Options
	loc    *time.Location
	mux    *http.ServeMux
	log    *slog.Logger
	client *http.Client

	mu      sync.Mutex
	offset  time.Duration
	down    bool
	faults  []fault
	st      *state
	reqs    []simctl.Request
	reqSeq  int64
	hookSeq int64
	hooks   []simctl.Webhook
	wg      sync.WaitGroup
}

// maxLog bounds the request log and the webhook log.
const maxLog = 200_000

// Compile-time check: the simulator is a simctl.Control.
var _ simctl.Control = (*Server)(nil)

// fault is an injected failure for the next matching requests.
type fault struct {
	pathPrefix string
	status     int    // HTTP status to answer; 0 with drop=true closes the connection
	body       string // raw body to send instead of the real answer
	drop       bool
	afterwards bool          // handle the request, then drop the connection
	delay      time.Duration // wait this long, then answer normally
	count      int
}

// discard is a ResponseWriter that forgets the answer.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// New builds a simulator.
func New(opts Options) (*Server, error) {
	if opts.CustomerCode == "" {
		opts.CustomerCode = "ILOQ_SIM"
	}
	if opts.UserName == "" {
		opts.UserName = "api.user"
	}
	if opts.Password == "" {
		opts.Password = "secret"
	}
	if opts.LockGroupID == "" {
		opts.LockGroupID = "6f1c1f6e-2d6a-4a8e-9a43-5b0d3e7f0001"
	}
	if opts.LockGroupName == "" {
		opts.LockGroupName = "Simulated 5 Series"
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "Europe/Helsinki"
	}
	if opts.OptionMask == 0 {
		opts.OptionMask = iloqapi.OptionPublicAPI | iloqapi.OptionAPIAccess | iloqapi.OptionS50 |
			iloqapi.Option5Series | iloqapi.OptionExternalRFID | iloqapi.OptionZonesInUse
	}
	if opts.RightsMask == 0 {
		opts.RightsMask = iloqapi.RightsAll
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionIdleTimeout == 0 {
		opts.SessionIdleTimeout = 30 * time.Minute
	}
	if opts.MaxAccessesPerKey == 0 {
		opts.MaxAccessesPerKey = 64
	}
	loc, err := time.LoadLocation(opts.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("iloq sim: time zone %q: %w", opts.TimeZone, err)
	}
	s := &Server{opts: opts, loc: loc, log: opts.Logger, client: opts.WebhookClient}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 5 * time.Second}
	}
	if opts.WebhookSignKey == "" {
		opts.WebhookSignKey = DefaultWebhookSignKey
		s.opts.WebhookSignKey = opts.WebhookSignKey
	}
	s.st = newState()
	s.st.zones = []iloqapi.Zone{{ZoneID: seedID("", "zone", -1),
		Name: "Default zone for keys and persons", Type: 4}}
	s.routes()
	return s, nil
}

// SetPoolURL sets what Url/GetUrl answers (useful once the listener's
// address is known).
func (s *Server) SetPoolURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.PoolURL = u
}

// Location is the locking system's time zone.
func (s *Server) Location() *time.Location { return s.loc }

// CustomerCode, UserName and Password are the credentials the simulator
// accepts.
func (s *Server) Credentials() (customerCode, user, password string) {
	return s.opts.CustomerCode, s.opts.UserName, s.opts.Password
}

// LockGroupID is the one locking system's id.
func (s *Server) LockGroupID() string { return s.opts.LockGroupID }

// now is the simulated time; callers hold s.mu or accept a racy read of offset.
func (s *Server) now() time.Time { return s.opts.Now().Add(s.offset).UTC() }

// Now is the simulator's current time.
func (s *Server) Now(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now(), nil
}

// Requests returns the request log of /api/ calls from sequence number
// since on. Op is the verb and route ("PUT /api/v2/Keys/{id}/SecurityAccesses"),
// Target the id in the path, Changed whether the call changed stored state.
func (s *Server) Requests(_ context.Context, since int64) ([]simctl.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []simctl.Request{}
	for _, r := range s.reqs {
		if r.Seq >= since {
			out = append(out, r)
		}
	}
	return out, nil
}

// Webhooks returns the webhook deliveries the simulator made to the
// keyward subscription (Options.WebhookSignKey) from sequence number since
// on, with their headers and raw signed bodies.
func (s *Server) Webhooks(_ context.Context, since int64) ([]simctl.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []simctl.Webhook{}
	for _, h := range s.hooks {
		if h.Seq >= since {
			out = append(out, h)
		}
	}
	return out, nil
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

// FailNext makes the next n requests whose path starts with pathPrefix
// (case-insensitive, "" for any; "PUT /api/…" also matches the verb) answer
// status with a {"Message"} body.
func (s *Server) FailNext(pathPrefix string, n, status int) {
	s.addFault(fault{pathPrefix: pathPrefix, status: status, count: n,
		body: `{"Message":"An error has occurred."}`})
}

// DropNext makes the next n matching requests lose their connection.
func (s *Server) DropNext(pathPrefix string, n int) {
	s.addFault(fault{pathPrefix: pathPrefix, drop: true, count: n})
}

// LoseAnswerNext makes the next n matching requests take effect and then
// lose their connection before the answer: the client cannot know whether
// the change happened.
func (s *Server) LoseAnswerNext(pathPrefix string, n int) {
	s.addFault(fault{pathPrefix: pathPrefix, afterwards: true, count: n})
}

// SlowNext makes the next n matching requests wait d before they are
// served, to exercise client timeouts.
func (s *Server) SlowNext(pathPrefix string, n int, d time.Duration) {
	s.addFault(fault{pathPrefix: pathPrefix, delay: d, count: n})
}

// GarbleNext makes the next n matching requests answer 200 with body.
func (s *Server) GarbleNext(pathPrefix string, n int, body string) {
	s.addFault(fault{pathPrefix: pathPrefix, status: http.StatusOK, body: body, count: n})
}

// ClearFaults drops every injected fault not yet used.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) addFault(f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.pathPrefix = strings.ToLower(f.pathPrefix)
	s.faults = append(s.faults, f)
}

// Crash makes the server drop every API connection until Restart, as a
// vendor outage looks to a client. Assumption A15: sessions do not survive.
func (s *Server) Crash(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = true
	s.st.sessions = map[string]*session{}
	return nil
}

// Restart brings a crashed server back. Stored data (persons, keys, logs,
// blocklist) survives; sessions do not.
func (s *Server) Restart(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
	s.st.sessions = map[string]*session{}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	if s.injected(rec, r) {
		return
	}
	s.route(rec, r)
}

// route serves a request and logs it.
func (s *Server) route(rec *statusRecorder, r *http.Request) {
	// ASP.NET routes are case-insensitive; so are GUIDs. Patterns are
	// registered in lower case and ids are compared in lower case.
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.ToLower(r.URL.Path)
	r2.URL.RawPath = ""
	if _, pattern := s.mux.Handler(r2); pattern == "" {
		s.noRoute(rec, r2)
	} else {
		s.mux.ServeHTTP(rec, r2) // sets the path values
	}
	if !strings.HasPrefix(r2.URL.Path, "/api/") {
		return
	}
	s.mu.Lock()
	s.reqSeq++
	if len(s.reqs) >= maxLog {
		s.reqs = slices.Delete(s.reqs, 0, maxLog/2) // a long-running simulator keeps the newest
	}
	s.reqs = append(s.reqs, simctl.Request{Seq: s.reqSeq, At: s.now(),
		Method: r.Method, Path: r.URL.Path, Op: rec.op, Target: rec.target, Changed: rec.changed,
		Status: rec.status})
	s.mu.Unlock()
}

// injected applies Crash and injected faults; it reports whether the request
// was answered (or dropped) here.
func (s *Server) injected(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	down := s.down
	var f *fault
	if !down && strings.HasPrefix(strings.ToLower(r.URL.Path), "/api/") {
		p := strings.ToLower(r.URL.Path)
		mp := strings.ToLower(r.Method) + " " + p
		for i := range s.faults {
			ft := s.faults[i]
			if ft.count > 0 && (strings.HasPrefix(p, ft.pathPrefix) || strings.HasPrefix(mp, ft.pathPrefix)) {
				s.faults[i].count--
				cp := s.faults[i]
				f = &cp
				break
			}
		}
	}
	s.mu.Unlock()
	if !down && f == nil {
		return false
	}
	if down && strings.HasPrefix(r.URL.Path, "/sim/") {
		return false
	}
	if down || f.drop {
		dropConnection(w)
		return true
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
		}
		return false
	}
	if f.afterwards {
		s.route(&statusRecorder{ResponseWriter: discard{}, status: http.StatusOK}, r)
		dropConnection(w)
		return true
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, f.body)
	return true
}

func dropConnection(w http.ResponseWriter) {
	if sr, ok := w.(*statusRecorder); ok {
		w = sr.ResponseWriter
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// noRoute answers like ASP.NET Web API: 404 for an unknown path, 405 for a
// known path with another verb.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf(
				"The requested resource does not support http method '%s'.", r.Method))
			return
		}
	}
	writeError(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI '"+
		r.URL.Path+"'.")
}

type statusRecorder struct {
	http.ResponseWriter
	status  int
	op      string
	target  string
	changed bool
	noop    bool
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// apiError is a vendor error answer.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// Assumption A1: the public docs do not give status codes. The simulator
// answers 400 for validation errors and unknown ids (body "Invalid value…"),
// 401 for a missing, unknown or expired session and for a wrong gateway key,
// 403 for a missing user right or a locking system not selected yet, 404 for
// unknown routes and 405 for a wrong verb.
func invalid(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: "Invalid value: " + fmt.Sprintf(format, args...)}
}

func errStatus(status int, msg string) *apiError { return &apiError{status: status, msg: msg} }

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, iloqapi.ErrorBody{Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"Message":"An error has occurred."}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode reads a JSON body strictly enough to reject malformed input.
func decode(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return invalid("request body could not be read")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return invalid("request body is empty")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return invalid("request body is not valid JSON: %v", err)
	}
	return nil
}

// canon is the comparison form of a GUID.
func canon(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// validGUID reports a syntactically valid GUID (client-generated ids).
func validGUID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
