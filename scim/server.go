package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"golang.org/x/time/rate"

	"github.com/keyward/keyward/connectors"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// Config configures the SCIM service.
type Config struct {
	// BasePath is where the service is mounted, e.g. "/scim/v2" (default). It
	// is matched case-insensitively.
	BasePath string
	// BaseURL is the absolute URL of BasePath as clients reach it
	// (https://keyward.example/scim/v2); meta.location and Location headers use
	// it. Empty: relative locations.
	BaseURL string
	// Clients authenticates requests. Required.
	Clients *Clients
	// Profiles maps profile names to connector profiles; nil: DefaultProfiles.
	Profiles map[string]connectors.Profile
	// MaxBodyBytes bounds request bodies (413 beyond). Default 4 MiB.
	MaxBodyBytes int64
	// MaxResults caps count on list requests. Default 1000.
	MaxResults int
	// RateLimit is each client's sustained requests per second, RateBurst its
	// burst. Defaults 100 and 200; a negative RateLimit disables the limit.
	RateLimit float64
	RateBurst int
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger
	// WriteTimeout bounds how long a write waits for the store (another
	// writer, a long estate apply); beyond it the client gets 503 with
	// Retry-After. Default 20 s.
	WriteTimeout time.Duration
	// AccessTokenTTL is how long a token from {base}/oauth/token lasts.
	// Default 1 hour.
	AccessTokenTTL time.Duration
	// TokenKey signs those tokens (32 bytes or more); empty: a random key per
	// process.
	TokenKey []byte
}

type server struct {
	eng       *engine.Engine
	st        store.Store
	cfg       Config
	log       *slog.Logger
	lib       scim.Server
	users     resourceShape
	groups    resourceShape
	limiters  sync.Map // client name → *rate.Limiter
	userType  scim.ResourceType
	groupType scim.ResourceType
	keyOnce   sync.Once
	key       []byte
	spc       []byte
}

// NewServer builds the SCIM service over an engine. The handler serves
// everything below cfg.BasePath; mount it at "/" or under that prefix.
func NewServer(eng *engine.Engine, cfg Config) (http.Handler, error) {
	if eng == nil || cfg.Clients == nil {
		return nil, errors.New("scim: an engine and a client store are required")
	}
	if cfg.BasePath == "" {
		cfg.BasePath = "/scim/v2"
	}
	cfg.BasePath = "/" + strings.Trim(cfg.BasePath, "/")
	if cfg.BasePath == "/" {
		cfg.BasePath = ""
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = 1000
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 100
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 200
	}
	if cfg.Profiles == nil {
		cfg.Profiles = DefaultProfiles()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 20 * time.Second
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	s := &server{eng: eng, st: eng.Store(), cfg: cfg, log: cfg.Logger}
	if err := s.build(); err != nil {
		return nil, err
	}
	return s, nil
}

type libLogger struct{ log *slog.Logger }

func (l libLogger) Error(args ...interface{}) {
	l.log.Error("scim library", "detail", fmt.Sprint(args...))
}

func (s *server) build() error {
	userDefs := map[string][]attr{URNUser: nil, URNEnterpriseUser: nil, URNKeywardUser: nil}
	groupDefs := map[string][]attr{URNGroup: nil, URNKeywardGroup: nil}
	us, es, ks := userSchema(), enterpriseSchema(), keywardUserSchema()
	gs, gks := groupSchema(), keywardGroupSchema()
	for urn, sch := range map[string][]byte{URNUser: mustJSON(us), URNEnterpriseUser: mustJSON(es), URNKeywardUser: mustJSON(ks)} {
		userDefs[urn] = attrsOf(sch)
	}
	for urn, sch := range map[string][]byte{URNGroup: mustJSON(gs), URNKeywardGroup: mustJSON(gks)} {
		groupDefs[urn] = attrsOf(sch)
	}
	s.users = newShape(translator{attrs: userAttrs, core: URNUser, exts: []string{URNEnterpriseUser, URNKeywardUser}}, userDefs)
	s.groups = newShape(translator{attrs: groupAttrs, core: URNGroup, exts: []string{URNKeywardGroup}}, groupDefs)
	types := []scim.ResourceType{
		{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("Identities: people known to keyward"),
			Schema: us, SchemaExtensions: []scim.SchemaExtension{{Schema: es}, {Schema: ks}}, Handler: &users{s}},
		{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("Entitlements; members are the identities holding a grant"),
			Schema: gs, SchemaExtensions: []scim.SchemaExtension{{Schema: gks}}, Handler: &groups{s}},
		{ID: optional.NewString("Entitlement"), Name: "Entitlement", Endpoint: "/Entitlements", Description: optional.NewString("Physical entitlements (catalogue)"),
			Schema: entitlementSchema(), Handler: &catalogue{s: s, kind: "Entitlement"}},
		{ID: optional.NewString("Role"), Name: "Role", Endpoint: "/Roles", Description: optional.NewString("Roles: policies granting entitlements (catalogue)"),
			Schema: roleSchema(), Handler: &catalogue{s: s, kind: "Role"}},
		{ID: optional.NewString("Lock"), Name: "Lock", Endpoint: "/Locks", Description: optional.NewString("Locks in the lock systems (read-only)"),
			Schema: lockSchema(), Handler: &catalogue{s: s, kind: "Lock"}},
	}
	s.userType, s.groupType = types[0], types[1]
	opts := []scim.ServerOption{scim.WithLogger(libLogger{s.log}), scim.WithRootQueryHandler(&root{s})}
	if s.cfg.BaseURL != "" {
		opts = append(opts, scim.WithBaseURL(s.cfg.BaseURL))
	}
	lib, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/keyward/keyward/tree/main/examples"),
			MaxResults:       s.cfg.MaxResults, SupportFiltering: true, SupportPatch: true,
		},
		ResourceTypes: types,
	}, opts...)
	if err != nil {
		return fmt.Errorf("scim: %w", err)
	}
	s.lib = lib
	s.spc = s.serviceProviderConfig()
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func attrsOf(schemaJSON []byte) []attr {
	var x struct {
		Attributes []attr `json:"attributes"`
	}
	_ = json.Unmarshal(schemaJSON, &x)
	return x.Attributes
}

// serviceProviderConfig is served by keyward rather than the library, whose
// document cannot say that ETags are supported (scim.md §1.3).
func (s *server) serviceProviderConfig() []byte {
	loc := "ServiceProviderConfig"
	if s.cfg.BaseURL != "" {
		loc = s.cfg.BaseURL + "/" + loc
	}
	return mustJSON(map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/keyward/keyward/tree/main/examples",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": s.cfg.MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{
			map[string]any{"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
				"description": "A client token issued by `keyward client add`, sent as Authorization: Bearer.",
				"specUri":     "https://www.rfc-editor.org/rfc/rfc6750"},
			map[string]any{"type": "oauth2", "name": "OAuth 2.0 client credentials",
				"description": "POST the client name and token to oauth/token (grant_type=client_credentials) for a short-lived bearer token.",
				"specUri":     "https://www.rfc-editor.org/rfc/rfc6749#section-4.4"},
			map[string]any{"type": "httpbasic", "name": "HTTP Basic",
				"description": "Client name and token, for platforms that only speak Basic.",
				"specUri":     "https://www.rfc-editor.org/rfc/rfc7617"},
		},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": loc},
	})
}

// ---- per-request state

type ctxKey struct{}

type reqState struct {
	client   *Client
	profile  connectors.Profile
	override statusOverride
}

func stateFrom(r *http.Request) *reqState {
	st, _ := r.Context().Value(ctxKey{}).(*reqState)
	return st
}

func overrideFrom(r *http.Request) *statusOverride {
	if st := stateFrom(r); st != nil {
		return &st.override
	}
	return nil
}

// actor is the engine actor for the request's client: every write records the
// client as the grant's source.
func actor(r *http.Request) engine.Actor {
	name := "scim"
	if st := stateFrom(r); st != nil && st.client != nil {
		name = st.client.Name
	}
	return engine.Actor{Name: "scim:" + name, Source: domain.Source{Kind: domain.SourceIGA, Name: name}}
}

// ---- the outer handler

// endpoints maps lower-cased first path segments to their canonical spelling.
var endpoints = map[string]string{
	"users": "Users", "groups": "Groups", "entitlements": "Entitlements", "roles": "Roles", "locks": "Locks",
	"schemas": "Schemas", "resourcetypes": "ResourceTypes", "serviceproviderconfig": "ServiceProviderConfig",
	"serviceproviderconfigs": "ServiceProviderConfig",
	// the Microsoft reference server's name for it, which its test collection uses
	"serviceconfiguration": "ServiceProviderConfig", "me": "Me", "bulk": "Bulk", ".search": ".search",
}

var discovery = map[string]bool{"Schemas": true, "ResourceTypes": true, "ServiceProviderConfig": true}
var catalogues = map[string]bool{"Entitlements": true, "Roles": true, "Locks": true}

// ServeHTTP implements http.Handler: base path, case-insensitive routing,
// authentication, rate limit, body limits and normalisation around the library,
// and the response fixes the library leaves to its user.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/scim+json")
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(r.Context(), "scim: panic", "panic", fmt.Sprint(v), "path", r.URL.Path)
			writeError(w, http.StatusInternalServerError, "", "internal error; the cause is in keyward's log")
		}
	}()
	rel, ok := s.relative(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "", "no SCIM endpoint at "+r.URL.Path)
		return
	}
	if strings.EqualFold(strings.Trim(rel, "/"), "oauth/token") {
		s.serveToken(w, r)
		return
	}
	st := &reqState{}
	if !s.authenticate(w, r, st) {
		return
	}
	if !s.allow(w, st.client) {
		return
	}
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	first := ""
	if len(segs) > 0 && segs[0] != "" {
		canon, known := endpoints[strings.ToLower(segs[0])]
		if !known {
			writeError(w, http.StatusNotFound, "", fmt.Sprintf("no SCIM endpoint %q", "/"+segs[0]))
			return
		}
		segs[0], first = canon, canon
		if len(segs) == 2 {
			segs[1] = s.canonicalID(first, segs[1])
		}
	}
	path := "/" + strings.Join(segs, "/")
	if path == "/" {
		path = ""
	}
	search := strings.HasSuffix(path, "/.search") || path == "/.search"
	write := r.Method != http.MethodGet && r.Method != http.MethodHead && !(r.Method == http.MethodPost && search)
	switch {
	case discovery[first] && r.Method != http.MethodGet:
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "", first+" is read-only")
		return
	case first == "ServiceProviderConfig":
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(s.spc)
		return
	case first == "Bulk":
		writeError(w, http.StatusNotImplemented, "", "bulk is not supported (see /ServiceProviderConfig)")
		return
	case catalogues[first] && write:
		w.Header().Set("Allow", "GET, POST (.search)")
		writeError(w, http.StatusMethodNotAllowed, "", first+" is a read-only catalogue; grant entitlements through Users or Groups")
		return
	case write && !st.client.CanWrite():
		writeError(w, http.StatusForbidden, "", "this client has read scope only")
		return
	}
	if s.cfg.BasePath != "" || r.URL.Path != path {
		r2 := *r
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r2.URL = &u
		r = &r2
	}
	req := &connectors.Request{Method: r.Method, Path: path, Query: r.URL.Query(), Header: r.Header}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		body, status, msg := s.readBody(w, r)
		if status != 0 {
			typ := ""
			if status == http.StatusBadRequest {
				typ = "invalidSyntax"
			}
			writeError(w, status, typ, msg)
			return
		}
		req.Body = body
	}
	if err := st.profile.Normalize(req); err != nil {
		writeError(w, http.StatusBadRequest, "invalidValue", err.Error())
		return
	}
	if r.Method == http.MethodPatch {
		s.urnPaths(first, req.Body)
	}
	if f := req.Query.Get("filter"); f != "" {
		req.Query.Set("filter", quoteBareValues(strings.TrimSpace(f)))
	}
	r = s.rebuild(r, req, st)
	if write {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && (path == "/Users" || path == "/Groups") {
		rt, l := s.userType, lister(&users{s})
		if path == "/Groups" {
			rt, l = s.groupType, &groups{s}
		}
		s.serveList(w, r, rt, l)
		return
	}
	rec := &recorder{header: http.Header{}}
	s.lib.ServeHTTP(rec, r)
	s.finish(w, r, rec, st)
}

// canonicalID spells a second path segment the way the library matches it:
// .search, resource type names and schema URNs are case-insensitive.
func (s *server) canonicalID(first, id string) string {
	if strings.EqualFold(id, ".search") {
		return ".search"
	}
	var known []string
	switch first {
	case "ResourceTypes":
		known = []string{"User", "Group", "Entitlement", "Role", "Lock"}
	case "Schemas":
		known = []string{URNUser, URNGroup, URNEnterpriseUser, URNKeywardUser, URNKeywardGroup, URNEntitlement, URNRole, URNLock}
	}
	for _, k := range known {
		if strings.EqualFold(k, id) {
			return k
		}
	}
	return id
}

// urnPaths rewrites PATCH operations whose path is a bare extension URN, which
// the library refuses (scim.md §1.6 #7), into path-less operations on the
// extension's object (iga.md BUG-12).
func (s *server) urnPaths(first string, body map[string]any) {
	var exts []string
	switch first {
	case "Users":
		exts = s.users.tr.exts
	case "Groups":
		exts = s.groups.tr.exts
	}
	ops, _ := body["Operations"].([]any)
	for _, o := range ops {
		op, ok := o.(map[string]any)
		if !ok {
			continue
		}
		p, _ := op["path"].(string)
		for _, e := range exts {
			if strings.EqualFold(strings.TrimSpace(p), e) {
				if v, isMap := op["value"].(map[string]any); isMap {
					delete(op, "path")
					op["value"] = map[string]any{e: v}
				}
			}
		}
	}
}

func (s *server) relative(p string) (string, bool) {
	if s.cfg.BasePath == "" {
		return p, true
	}
	if len(p) < len(s.cfg.BasePath) || !strings.EqualFold(p[:len(s.cfg.BasePath)], s.cfg.BasePath) {
		return "", false
	}
	rest := p[len(s.cfg.BasePath):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

func (s *server) readBody(w http.ResponseWriter, r *http.Request) (map[string]any, int, string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/scim+json" || mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json") {
			return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("send application/scim+json or application/json, not %q", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return nil, http.StatusBadRequest, "the body could not be read"
	}
	return decodeBody(data)
}

// decodeBody decodes a request body: one JSON object, numbers kept exact.
func decodeBody(data []byte) (map[string]any, int, string) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, http.StatusBadRequest, "the request needs a JSON body"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, http.StatusBadRequest, "the body is not valid JSON: " + jsonErrText(err)
	}
	if dec.More() {
		return nil, http.StatusBadRequest, "the body holds more than one JSON value"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, http.StatusBadRequest, "the body must be a JSON object"
	}
	return m, 0, ""
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends too early"
	}
	return err.Error()
}

// rebuild puts the normalised query and body back into the request.
func (s *server) rebuild(r *http.Request, req *connectors.Request, st *reqState) *http.Request {
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
	u := *r.URL
	u.RawQuery = req.Query.Encode()
	r.URL = &u
	if req.Body != nil {
		b, _ := json.Marshal(req.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	return r
}

func (s *server) authenticate(w http.ResponseWriter, r *http.Request, st *reqState) bool {
	h := r.Header.Get("Authorization")
	var cl *Client
	var err error
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(strings.TrimSpace(cred), accessTokenPrefix):
		if name := s.verify(strings.TrimSpace(cred)); name != "" {
			cl, err = s.cfg.Clients.ByName(r.Context(), name)
		}
	case strings.EqualFold(scheme, "Bearer"):
		cl, err = s.cfg.Clients.ByToken(r.Context(), strings.TrimSpace(cred))
	case strings.EqualFold(scheme, "Basic"):
		if user, pass, ok := r.BasicAuth(); ok {
			cl, err = s.cfg.Clients.ByBasic(r.Context(), user, pass)
			if cl != nil && !s.profile(cl).AllowBasic() {
				cl = nil
			}
		}
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "scim: client lookup", "err", err)
		writeError(w, http.StatusServiceUnavailable, "", "keyward cannot check credentials right now")
		return false
	}
	if cl == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keyward"`)
		writeError(w, http.StatusUnauthorized, "", "authentication required")
		return false
	}
	st.client, st.profile = cl, s.profile(cl)
	return true
}

func (s *server) profile(cl *Client) connectors.Profile {
	if p, ok := s.cfg.Profiles[cl.Profile]; ok {
		return p
	}
	return connectors.Generic{}
}

func (s *server) allow(w http.ResponseWriter, cl *Client) bool {
	if s.cfg.RateLimit < 0 {
		return true
	}
	v, _ := s.limiters.LoadOrStore(cl.Name, rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst))
	lim := v.(*rate.Limiter)
	res := lim.Reserve()
	// SailPoint paces itself on these (iga.md §1.2).
	w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(s.cfg.RateBurst))
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(int(lim.Tokens()), 0)))
	if d := res.Delay(); d > 0 {
		res.Cancel()
		secs := int(d.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("X-Rate-Limit-Retry-After-Seconds", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf("rate limit of %g requests/s exceeded; retry after %d s", s.cfg.RateLimit, secs))
		return false
	}
	return true
}

var itemsPerPage = regexp.MustCompile(`"itemsPerPage":-?\d+`)

// finish writes the library's response with keyward's fixes: status codes the
// library cannot express, itemsPerPage as the number returned, If-None-Match,
// and no internal detail in 500s.
func (s *server) finish(w http.ResponseWriter, r *http.Request, rec *recorder, st *reqState) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/scim+json")
	body := rec.body.Bytes()
	if status == http.StatusInternalServerError && st.override.status != 0 {
		if st.override.retryAfter != "" {
			w.Header().Set("Retry-After", st.override.retryAfter)
		}
		writeError(w, st.override.status, "", st.override.detail)
		return
	}
	if status == http.StatusInternalServerError {
		var e struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(body, &e)
		if !strings.Contains(e.Detail, "keyward") {
			s.log.ErrorContext(r.Context(), "scim: library error", "detail", e.Detail, "path", r.URL.Path)
			writeError(w, status, "", "internal error; the cause is in keyward's log")
			return
		}
	}
	if status == http.StatusOK && r.Method == http.MethodGet {
		if etag := rec.header.Get("Etag"); etag != "" && etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if bytes.HasPrefix(body, []byte(`{"Resources"`)) || bytes.Contains(body[:min(len(body), 200)], []byte(urnListResponse)) {
			body = s.fixList(body)
		}
	}
	if r.Method == http.MethodPost && bytes.Contains(body[:min(len(body), 300)], []byte(urnListResponse)) {
		body = s.fixList(body)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// fixList sets itemsPerPage to the number of resources returned (RFC 7644
// §3.4.2) and an empty Resources array instead of null.
func (s *server) fixList(body []byte) []byte {
	var lr struct {
		Resources []json.RawMessage `json:"Resources"`
	}
	if json.Unmarshal(body, &lr) != nil {
		return body
	}
	body = itemsPerPage.ReplaceAll(body, []byte(`"itemsPerPage":`+strconv.Itoa(len(lr.Resources))))
	return bytes.Replace(body, []byte(`"Resources":null`), []byte(`"Resources":[]`), 1)
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// writeError writes a SCIM error (RFC 7644 §3.12).
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	e := map[string]any{"schemas": []string{urnError}, "status": strconv.Itoa(status), "detail": detail}
	if scimType != "" {
		e["scimType"] = scimType
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// ---- ETags

func etagOf(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, p := range strings.Split(header, ",") {
		p = strings.TrimSpace(p)
		if p == "*" || strings.TrimPrefix(p, "W/") == want {
			return true
		}
	}
	return false
}

// checkIfMatch refuses a change whose If-Match names another version (RFC 7644
// §3.14). It runs before anything is applied.
func checkIfMatch(r *http.Request, etag string) error {
	h := r.Header.Get("If-Match")
	if h == "" || etagMatches(h, etag) {
		return nil
	}
	return errPrecondition()
}

// expectFor is the version to pass to the engine: the current one when the
// client named it, so that a concurrent change still fails the request.
func expectFor(r *http.Request, version int64) int64 {
	if r.Header.Get("If-Match") != "" {
		return version
	}
	return store.AnyVersion
}

func (s *server) location(endpoint, id string) string {
	if s.cfg.BaseURL == "" {
		return endpoint + "/" + id
	}
	return s.cfg.BaseURL + "/" + endpoint + "/" + id
}
