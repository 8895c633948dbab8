package ldap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/bcrypt"
)

// GroupStyle chooses how entitlement groups look.
type GroupStyle string

// The group styles (RFC 4519 §3.5, §3.6).
const (
	// GroupOfNames: structural class groupOfNames, members in member (the default;
	// SailPoint, One Identity and most connectors).
	GroupOfNames GroupStyle = "groupOfNames"
	// GroupOfUniqueNames: groupOfUniqueNames with uniqueMember (ConnId/OpenICF and
	// Palo Alto defaults, ODSEE-style clients).
	GroupOfUniqueNames GroupStyle = "groupOfUniqueNames"
)

// Account is a service account an IGA connector binds as:
// cn=<Name>,ou=system,<BaseDN>.
type Account struct {
	// Name is the account's cn.
	Name string
	// SecretHash is the bcrypt hash of the secret (see HashSecret); the secret
	// itself is never kept.
	SecretHash string
	// Write allows member/uniqueMember changes on entitlement groups. Without it
	// the account reads only.
	Write bool
}

// HashSecret returns the bcrypt hash of a service account secret for the config.
func HashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("ldap: hash secret: %w", err)
	}
	return string(h), nil
}

// Config configures the directory view. Zero values take the documented defaults.
type Config struct {
	// BaseDN is the one naming context, e.g. "dc=keyward,dc=local" (default). Its
	// first RDN must be dc=, o= or ou=.
	BaseDN string
	// Addr is the plain LDAP listen address ("127.0.0.1:1389"); StartTLS is offered
	// on it when TLS is set. Empty: no plain listener.
	Addr string
	// TLSAddr is the LDAPS listen address. Empty: no LDAPS listener. Needs TLS.
	TLSAddr string
	// TLS is the server certificate configuration for LDAPS and StartTLS. TLS 1.2
	// is the minimum whatever it says.
	TLS *tls.Config
	// AllowCleartextBind accepts simple binds with a password on a connection
	// without TLS. Off by default: such binds get confidentialityRequired (13).
	AllowCleartextBind bool
	// Accounts are the service accounts.
	Accounts []Account
	// GroupStyle is GroupOfNames (default) or GroupOfUniqueNames.
	GroupStyle GroupStyle
	// EmptyMember is the placeholder member of an entitlement nobody holds,
	// because groupOfNames and groupOfUniqueNames must have one (RFC 4519). Default
	// "cn=empty-group-placeholder,ou=system,<BaseDN>". It names no entry; adding or
	// deleting it is accepted and changes nothing.
	EmptyMember string
	// MaxConnections bounds concurrent connections (default 1024); a connection
	// beyond it gets a notice of disconnection (busy) and is closed.
	MaxConnections int
	// IdleTimeout closes a connection that sends nothing for this long (default
	// 15 minutes). A connection busy with a request or a response is never idle.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one response to a slow reader (default 2 minutes).
	WriteTimeout time.Duration
	// MaxMessageSize bounds one request PDU (default 1 MiB).
	MaxMessageSize int
	// MaxFilterDepth bounds filter nesting (default 64).
	MaxFilterDepth int
	// SizeLimit caps the entries of a search without paging (default 1000, like
	// Active Directory's MaxPageSize); more gives sizeLimitExceeded (4).
	SizeLimit int
	// MaxPageSize caps the page size of paged searches (default 1000); larger
	// requested sizes get pages of this size.
	MaxPageSize int
	// RefreshInterval is how often the view looks for changes in the store made
	// by others (default 1 s). Changes made through the view itself show at once.
	RefreshInterval time.Duration
	// Changelog publishes cn=changelog (draft-good-ldap-changelog) for
	// delete-aware delta syncs, keeping the last ChangelogSize changes (default
	// 10000).
	Changelog     bool
	ChangelogSize int
	// Logger receives the server's log lines (default: discarded).
	Logger *slog.Logger
	// Version is shown as vendorVersion in the root DSE.
	Version string
}

func (c *Config) defaults() error {
	if c.BaseDN == "" {
		c.BaseDN = "dc=keyward,dc=local"
	}
	d, err := goldap.ParseDN(c.BaseDN)
	if err != nil || len(d.RDNs) == 0 {
		return fmt.Errorf("ldap: base DN %q is not a DN", c.BaseDN)
	}
	switch lower(d.RDNs[0].Attributes[0].Type) {
	case "dc", "o", "ou":
	default:
		return fmt.Errorf("ldap: base DN %q must start with dc=, o= or ou=", c.BaseDN)
	}
	if c.GroupStyle == "" {
		c.GroupStyle = GroupOfNames
	}
	if c.GroupStyle != GroupOfNames && c.GroupStyle != GroupOfUniqueNames {
		return fmt.Errorf("ldap: group style %q is neither groupOfNames nor groupOfUniqueNames", c.GroupStyle)
	}
	if c.EmptyMember == "" {
		c.EmptyMember = "cn=empty-group-placeholder,ou=system," + c.BaseDN
	}
	if c.TLSAddr != "" && c.TLS == nil {
		return errors.New("ldap: LDAPS needs a TLS configuration")
	}
	if c.TLS != nil {
		c.TLS = c.TLS.Clone()
		if c.TLS.MinVersion < tls.VersionTLS12 {
			c.TLS.MinVersion = tls.VersionTLS12
		}
	}
	for _, a := range c.Accounts {
		if a.Name == "" || !strings.HasPrefix(a.SecretHash, "$2") {
			return fmt.Errorf("ldap: account %q needs a name and a bcrypt secret hash", a.Name)
		}
	}
	setDefault(&c.MaxConnections, 1024)
	setDefault(&c.MaxMessageSize, 1<<20)
	setDefault(&c.MaxFilterDepth, 64)
	setDefault(&c.SizeLimit, 1000)
	setDefault(&c.MaxPageSize, 1000)
	setDefault(&c.ChangelogSize, 10000)
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 15 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 2 * time.Minute
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return nil
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

// backend is what the protocol layer needs from the view behind it.
type backend interface {
	// modify applies a modify request made by bindDN (*ldapError on refusal).
	modify(ctx context.Context, bindDN string, req modifyRequest, permissive bool) error
}

// server is the protocol layer: listeners, connections, binds and searches over a
// dit. See doc.go for why it is not built on gldap.
type server struct {
	cfg       Config
	log       *slog.Logger
	dit       *dit
	back      backend
	baseNDN   string
	rootDSE   atomic.Pointer[entry]
	subschema *entry
	accounts  map[string]Account // by normalised bind DN
	limiter   *bindLimiter

	slots chan struct{}
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
}

func newServer(cfg Config, d *dit, back backend) (*server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &server{
		cfg:      cfg,
		log:      cfg.Logger,
		dit:      d,
		back:     back,
		baseNDN:  normDN(cfg.BaseDN),
		accounts: map[string]Account{},
		limiter:  newBindLimiter(),
		slots:    make(chan struct{}, cfg.MaxConnections),
		conns:    map[*conn]struct{}{},
	}
	for _, a := range cfg.Accounts {
		s.accounts[normDN(s.accountDN(a.Name))] = a
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.rootDSE.Store(s.buildRootDSE("0", "0"))
	s.subschema = buildSubschema(time.Now())
	return s, nil
}

func (s *server) accountDN(name string) string {
	return "cn=" + goldap.EscapeDN(name) + ",ou=system," + s.cfg.BaseDN
}

// listen opens the configured listeners and serves them in the background.
func (s *server) listen() error {
	if s.cfg.Addr == "" && s.cfg.TLSAddr == "" {
		return errors.New("ldap: neither Addr nor TLSAddr is set")
	}
	if s.cfg.Addr != "" {
		ln, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("ldap: listen %s: %w", s.cfg.Addr, err)
		}
		s.serve(ln, false)
	}
	if s.cfg.TLSAddr != "" {
		ln, err := net.Listen("tcp", s.cfg.TLSAddr)
		if err != nil {
			s.close()
			return fmt.Errorf("ldap: listen %s: %w", s.cfg.TLSAddr, err)
		}
		s.serve(tls.NewListener(ln, s.cfg.TLS), true)
	}
	return nil
}

// serve accepts connections on ln in the background until the server stops.
func (s *server) serve(ln net.Listener, isTLS bool) {
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backoff := 5 * time.Millisecond
		for {
			nc, err := ln.Accept()
			if err != nil {
				if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				// Temporary failures (out of file descriptors) must not stop the
				// listener: wait and retry.
				s.log.Warn("ldap accept failed", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-s.ctx.Done():
					return
				}
				backoff = min(backoff*2, time.Second)
				continue
			}
			backoff = 5 * time.Millisecond
			select {
			case s.slots <- struct{}{}:
			default:
				s.refuse(nc)
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() { <-s.slots }()
				s.handleConn(nc, isTLS)
			}()
		}
	}()
}

// refuse answers a connection over the limit with a notice of disconnection.
func (s *server) refuse(nc net.Conn) {
	s.log.Warn("ldap connection refused: limit reached", "remote", nc.RemoteAddr().String(), "max", s.cfg.MaxConnections)
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	var e encoder
	noticeOfDisconnection(&e, resultBusy, "too many connections")
	_, _ = nc.Write(e.b)
	_ = nc.Close()
}

func noticeOfDisconnection(e *encoder, code int, msg string) {
	p := e.begin(tagSequence)
	e.integer(tagInteger, 0)
	q := e.begin(tagExtendedResp)
	e.integer(tagEnumerated, int64(code))
	e.octets(tagOctetString, "")
	e.octets(tagOctetString, msg)
	e.octets(0x8a, oidNoticeDisconnect)
	e.end(q)
	e.end(p)
}

func (s *server) close() {
	s.stop()
	s.mu.Lock()
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// addrs returns the listeners' addresses (plain first).
func (s *server) addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// conn is one client connection. Requests on it are handled one at a time, in
// order: that is the per-connection in-flight limit (one), and what makes responses
// batch into few writes.
type conn struct {
	s       *server
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	tls     bool
	remote  string
	buf     []byte
	scratch encoder

	bindDN  string // "" when anonymous
	account *Account
	cursors map[string]*cursor
	closing bool
	bases   map[string]string // recent search bases, normalised
	attrBuf []*attribute
}

func (s *server) handleConn(nc net.Conn, isTLS bool) {
	c := &conn{
		s:       s,
		nc:      nc,
		r:       bufio.NewReaderSize(nc, 16<<10),
		w:       bufio.NewWriterSize(nc, 64<<10),
		tls:     isTLS,
		remote:  nc.RemoteAddr().String(),
		cursors: map[string]*cursor{},
		bases:   map[string]string{},
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = nc.Close()
	}()
	if isTLS {
		tc := nc.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.log.Debug("ldaps handshake failed", "remote", c.remote, "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	c.loop()
}

func (c *conn) loop() {
	for !c.closing {
		// The idle timeout runs only while waiting for a request: a long search or a
		// slow response never counts as idle.
		if err := c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout)); err != nil {
			return
		}
		frame, err := readFrame(c.r, c.buf, c.s.cfg.MaxMessageSize)
		if err != nil {
			c.readFailed(err)
			return
		}
		c.buf = frame[:0]
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
			return
		}
		c.safeHandle(frame)
		// Flush when no further request is already waiting, so pipelined requests
		// share writes.
		if c.r.Buffered() == 0 || c.closing {
			if err := c.w.Flush(); err != nil {
				return
			}
		}
	}
}

func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && ne.Timeout():
		c.s.log.Debug("ldap connection idle, closing", "remote", c.remote)
		c.notice(resultUnavailable, "idle timeout")
	case errors.Is(err, errFrame):
		c.s.log.Info("ldap protocol error, closing", "remote", c.remote, "err", err)
		c.notice(resultProtocolError, err.Error())
	default:
		c.s.log.Debug("ldap read failed", "remote", c.remote, "err", err)
	}
}

func (c *conn) notice(code int, msg string) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	var e encoder
	noticeOfDisconnection(&e, code, msg)
	_, _ = c.w.Write(e.b)
	_ = c.w.Flush()
}

// safeHandle handles one request; a panic ends that request with "other" (80),
// not the connection or the process.
func (c *conn) safeHandle(frame []byte) {
	id, op, _ := peekHeader(frame)
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("ldap request panicked", "remote", c.remote, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if rt := responseTag(op); rt != 0 {
				c.result(id, rt, &ldapError{code: resultOther, msg: "internal error"})
			}
		}
	}()
	c.handle(frame, id, op)
}

func (c *conn) handle(frame []byte, id int64, op byte) {
	m, err := decodeMessage(frame)
	if err != nil {
		if rt := responseTag(op); rt != 0 {
			c.result(id, rt, lerr(resultProtocolError, "%v", err))
			return
		}
		// Nothing to answer on (an unknown or undecodable operation): RFC 4511
		// §4.1.1 asks for a notice of disconnection.
		c.notice(resultProtocolError, err.Error())
		c.closing = true
		return
	}
	switch m.tag {
	case tagBindRequest:
		c.bind(m)
	case tagUnbindRequest:
		c.closing = true
	case tagSearchRequest:
		c.search(m)
	case tagModifyRequest:
		c.modify(m)
	case tagAddRequest, tagDelRequest, tagModDNRequest:
		c.result(m.id, responseTag(m.tag), c.refuseWrite())
	case tagCompareRequest:
		c.compare(m)
	case tagAbandonRequest:
		// Requests run one at a time, so whatever the client abandons has already
		// been answered; Abandon has no response (RFC 4511 §4.11).
	case tagExtendedRequest:
		c.extended(m)
	default:
		c.notice(resultProtocolError, fmt.Sprintf("unsupported operation 0x%02x", m.tag))
		c.closing = true
	}
}

func (c *conn) refuseWrite() *ldapError {
	if c.account == nil || !c.account.Write {
		return lerr(resultInsufficientAccessRights, "this bind identity may not write")
	}
	return lerr(resultUnwillingToPerform, "keyward's directory view accepts only member changes on entitlement groups; manage identities through SCIM")
}

// checkControls refuses unknown critical controls (RFC 4511 §4.1.11).
func (c *conn) checkControls(m *message, known ...string) *ldapError {
	for _, ctl := range m.controls {
		if !ctl.critical {
			continue
		}
		ok := false
		for _, k := range known {
			if ctl.oid == k {
				ok = true
			}
		}
		if !ok {
			return lerr(resultUnavailableCritical, "critical control %s is not supported", ctl.oid)
		}
	}
	return nil
}

// result writes an LDAPResult-shaped response; err nil means success.
func (c *conn) result(id int64, tag byte, err *ldapError) {
	c.resultWith(id, tag, err, nil, nil)
}

func (c *conn) resultWith(id int64, tag byte, err *ldapError, extra func(*encoder), controls func(*encoder)) {
	code, matched, msg := resultSuccess, "", ""
	if err != nil {
		code, matched, msg = err.code, err.matched, err.msg
	}
	e := &c.scratch
	e.b = e.b[:0]
	p := e.begin(tagSequence)
	e.integer(tagInteger, id)
	q := e.begin(tag)
	e.integer(tagEnumerated, int64(code))
	e.octets(tagOctetString, matched)
	e.octets(tagOctetString, msg)
	if extra != nil {
		extra(e)
	}
	e.end(q)
	if controls != nil {
		r := e.begin(0xa0)
		controls(e)
		e.end(r)
	}
	e.end(p)
	_, _ = c.w.Write(e.b)
}

// bind handles simple binds; SASL gets authMethodNotSupported (7).
func (c *conn) bind(m *message) {
	if err := c.checkControls(m); err != nil {
		c.result(m.id, tagBindResponse, err)
		return
	}
	req, err := decodeBind(m.op)
	if err != nil {
		c.result(m.id, tagBindResponse, lerr(resultProtocolError, "%v", err))
		return
	}
	// A bind starts from anonymous whatever its outcome (RFC 4513 §4).
	c.bindDN, c.account = "", nil
	c.cursors = map[string]*cursor{}
	switch {
	case req.version != 3:
		c.result(m.id, tagBindResponse, lerr(resultProtocolError, "only LDAP version 3 is supported"))
		return
	case !req.simple:
		c.result(m.id, tagBindResponse, lerr(resultAuthMethodNotSupported, "SASL mechanism %q is not supported; use a simple bind", req.mech))
		return
	case req.name == "" && req.password == "":
		c.result(m.id, tagBindResponse, nil) // anonymous
		return
	case req.password == "":
		c.result(m.id, tagBindResponse, lerr(resultUnwillingToPerform, "unauthenticated bind (a name without a password) is refused"))
		return
	case !c.tls && !c.s.cfg.AllowCleartextBind:
		c.result(m.id, tagBindResponse, lerr(resultConfidentialityRequired, "use LDAPS or StartTLS before a simple bind"))
		return
	}
	host := c.remote
	if h, _, err := net.SplitHostPort(c.remote); err == nil {
		host = h
	}
	c.s.limiter.wait(c.s.ctx, host)
	// TODO: every bind runs bcrypt (about 50 ms of CPU at the default cost), so
	// clients that bind per operation instead of pooling connections are CPU-bound
	// on binds.
	acct, ok := c.s.accounts[normDN(req.name)]
	if !ok || bcrypt.CompareHashAndPassword([]byte(acct.SecretHash), []byte(req.password)) != nil {
		c.s.limiter.failed(host)
		c.s.log.Info("ldap bind failed", "remote", c.remote, "bind_dn", req.name)
		c.result(m.id, tagBindResponse, lerr(resultInvalidCredentials, "invalid credentials"))
		return
	}
	c.s.limiter.succeeded(host)
	c.bindDN, c.account = c.s.accountDN(acct.Name), &acct
	c.result(m.id, tagBindResponse, nil)
}

func (c *conn) extended(m *message) {
	req, err := decodeExtended(m.op)
	if err != nil {
		c.result(m.id, tagExtendedResp, lerr(resultProtocolError, "%v", err))
		return
	}
	if err := c.checkControls(m); err != nil {
		c.result(m.id, tagExtendedResp, err)
		return
	}
	switch req.name {
	case oidWhoAmI:
		authz := ""
		if c.bindDN != "" {
			authz = "dn:" + c.bindDN
		}
		c.resultWith(m.id, tagExtendedResp, nil, func(e *encoder) { e.octets(0x8b, authz) }, nil)
	case oidStartTLS:
		c.startTLS(m)
	default:
		c.result(m.id, tagExtendedResp, lerr(resultProtocolError, "extended operation %s is not supported", req.name))
	}
}

func (c *conn) startTLS(m *message) {
	name := func(e *encoder) { e.octets(0x8a, oidStartTLS) }
	switch {
	case c.s.cfg.TLS == nil:
		c.resultWith(m.id, tagExtendedResp, lerr(resultProtocolError, "StartTLS is not configured"), name, nil)
		return
	case c.tls:
		c.resultWith(m.id, tagExtendedResp, lerr(resultOperationsError, "TLS is already established"), name, nil)
		return
	}
	c.resultWith(m.id, tagExtendedResp, nil, name, nil)
	if err := c.w.Flush(); err != nil {
		c.closing = true
		return
	}
	tc := tls.Server(c.nc, c.s.cfg.TLS)
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(c.s.ctx); err != nil {
		c.s.log.Debug("starttls handshake failed", "remote", c.remote, "err", err)
		c.closing = true
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc, c.tls = tc, true
	c.r.Reset(tc)
	c.w.Reset(tc)
}

// bindLimiter slows down repeated failed binds from one host: after each failure
// the next attempt waits twice as long (up to 5 s); a success resets it.
type bindLimiter struct {
	mu    sync.Mutex
	first time.Duration // the delay after a first failure
	hosts map[string]*bindBackoff
}

type bindBackoff struct {
	next  time.Time
	delay time.Duration
}

func newBindLimiter() *bindLimiter {
	return &bindLimiter{first: 100 * time.Millisecond, hosts: map[string]*bindBackoff{}}
}

func (l *bindLimiter) wait(ctx context.Context, host string) {
	l.mu.Lock()
	b := l.hosts[host]
	var d time.Duration
	if b != nil {
		d = time.Until(b.next)
	}
	l.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (l *bindLimiter) failed(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.hosts[host]
	if b == nil {
		if len(l.hosts) > 10000 {
			now := time.Now()
			for h, x := range l.hosts {
				if now.Sub(x.next) > time.Minute {
					delete(l.hosts, h)
				}
			}
		}
		b = &bindBackoff{delay: l.first}
		l.hosts[host] = b
	} else {
		b.delay = min(b.delay*2, 5*time.Second)
	}
	b.next = time.Now().Add(b.delay)
}

func (l *bindLimiter) succeeded(host string) {
	l.mu.Lock()
	delete(l.hosts, host)
	l.mu.Unlock()
}
