package scim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// Scope is what a client may do.
type Scope string

// The scopes.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
)

// Client is an IGA platform's credential. The token itself is never stored:
// only its SHA-256 (the token is 256 random bits, so a slow hash adds nothing).
type Client struct {
	Name      string    `json:"name"`
	Profile   string    `json:"profile"`
	Scope     Scope     `json:"scope"`
	TokenHash string    `json:"tokenHash"`
	Created   time.Time `json:"created"`
}

// CanWrite tells whether the client may change anything.
func (c *Client) CanWrite() bool { return c.Scope == ScopeWrite }

const clientPrefix = "scim-client:"

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Clients is the store of SCIM clients, kept as settings in keyward's store and
// written through the engine (audited, without the token).
type Clients struct {
	eng *engine.Engine

	mu      sync.RWMutex
	byHash  map[string]*Client
	byName  map[string]*Client
	loaded  time.Time
	refresh time.Duration
}

// NewClients opens the client store of an engine.
func NewClients(eng *engine.Engine) *Clients {
	return &Clients{eng: eng, refresh: time.Second}
}

// Profiles names the profiles a client may be added with.
var Profiles = []string{"entra", "okta", "sailpoint", "oneidentity", "omada", "netiq", "generic"}

// Add creates a client and returns its bearer token, which is shown once and
// cannot be recovered.
func (c *Clients) Add(ctx context.Context, name, profile string, scope Scope) (string, error) {
	if !clientName.MatchString(name) {
		return "", domain.Invalid("name", "use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit")
	}
	if !validProfile(profile) {
		return "", domain.Invalid("profile", "%q is not one of %s", profile, strings.Join(Profiles, ", "))
	}
	if scope != ScopeRead && scope != ScopeWrite {
		return "", domain.Invalid("scope", "%q is not read or write", scope)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("scim: token: %w", err)
	}
	token := "kw_" + base64.RawURLEncoding.EncodeToString(raw)
	cl := Client{Name: name, Profile: profile, Scope: scope, TokenHash: hashToken(token), Created: c.eng.Now()}
	if err := c.put(ctx, &cl, 0); err != nil {
		return "", err
	}
	return token, nil
}

// AddWithToken creates a client with a token the caller chose (the quick
// start keeps its token in a file so that every run prints the same one).
func (c *Clients) AddWithToken(ctx context.Context, name, profile string, scope Scope, token string) error {
	if len(token) < 20 {
		return domain.Invalid("token", "a token needs at least 20 characters")
	}
	cl := Client{Name: name, Profile: profile, Scope: scope, TokenHash: hashToken(token), Created: c.eng.Now()}
	return c.put(ctx, &cl, 0)
}

func (c *Clients) put(ctx context.Context, cl *Client, expect int64) error {
	v, err := json.Marshal(cl)
	if err != nil {
		return err
	}
	set := &domain.Setting{Meta: domain.Meta{ID: clientPrefix + cl.Name}, Value: string(v)}
	_, err = c.eng.Execute(ctx, engine.Actor{Name: "cli", Source: domain.Source{Kind: domain.SourceManual, Name: "cli"}},
		engine.PutResource{Resource: set, Expect: expect})
	if err != nil {
		return err
	}
	c.invalidate()
	return nil
}

// Remove deletes a client; its token stops working at once.
func (c *Clients) Remove(ctx context.Context, name string) error {
	_, err := c.eng.Execute(ctx, engine.Actor{Name: "cli", Source: domain.Source{Kind: domain.SourceManual, Name: "cli"}},
		engine.DeleteResource{Kind: domain.KindSetting, ID: clientPrefix + name, Expect: store.AnyVersion})
	c.invalidate()
	return err
}

// List returns every client, by name.
func (c *Clients) List(ctx context.Context) ([]Client, error) {
	if err := c.load(ctx, true); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Client, 0, len(c.byName))
	for _, n := range sortedKeys(c.byName) {
		out = append(out, *c.byName[n])
	}
	return out, nil
}

func (c *Clients) invalidate() {
	c.mu.Lock()
	c.loaded = time.Time{}
	c.mu.Unlock()
}

func (c *Clients) load(ctx context.Context, force bool) error {
	c.mu.RLock()
	fresh := !c.loaded.IsZero() && time.Since(c.loaded) < c.refresh
	c.mu.RUnlock()
	if fresh && !force {
		return nil
	}
	var sets []*domain.Setting
	err := c.eng.Store().View(ctx, func(tx store.Tx) error {
		var err error
		sets, err = store.All[domain.Setting](ctx, tx, store.Compare{Attr: "id", Op: store.Sw, Value: clientPrefix, CaseExact: true})
		return err
	})
	if err != nil {
		return err
	}
	byHash, byName := map[string]*Client{}, map[string]*Client{}
	for _, s := range sets {
		var cl Client
		if json.Unmarshal([]byte(s.Value), &cl) != nil {
			continue
		}
		byHash[cl.TokenHash] = &cl
		byName[strings.ToLower(cl.Name)] = &cl
	}
	c.mu.Lock()
	c.byHash, c.byName, c.loaded = byHash, byName, time.Now()
	c.mu.Unlock()
	return nil
}

// ByToken finds the client a bearer token belongs to.
func (c *Clients) ByToken(ctx context.Context, token string) (*Client, error) {
	if token == "" {
		return nil, nil
	}
	h := hashToken(token)
	for attempt := 0; attempt < 2; attempt++ {
		if err := c.load(ctx, attempt == 1); err != nil {
			return nil, err
		}
		c.mu.RLock()
		cl := c.byHash[h]
		c.mu.RUnlock()
		if cl != nil {
			return cl, nil
		}
		if attempt == 0 {
			c.mu.RLock()
			recent := time.Since(c.loaded) < 100*time.Millisecond
			c.mu.RUnlock()
			if recent {
				break
			}
		}
	}
	return nil, nil
}

// ByName finds a client by name (for signed access tokens).
func (c *Clients) ByName(ctx context.Context, name string) (*Client, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if err := c.load(ctx, attempt == 1); err != nil {
			return nil, err
		}
		c.mu.RLock()
		cl := c.byName[strings.ToLower(name)]
		c.mu.RUnlock()
		if cl != nil {
			return cl, nil
		}
	}
	return nil, nil
}

// ByBasic finds a client by name and token (HTTP Basic).
func (c *Clients) ByBasic(ctx context.Context, name, token string) (*Client, error) {
	cl, err := c.ByToken(ctx, token)
	if err != nil || cl == nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cl.Name)), []byte(strings.ToLower(name))) != 1 {
		return nil, nil
	}
	return cl, nil
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func validProfile(p string) bool {
	for _, x := range Profiles {
		if x == p {
			return true
		}
	}
	return false
}

// QuickStartToken returns the bearer token of the quick start's client, kept in
// a 0600 file in the quick start's data folder: created (with the client) on the
// first run, read on every later run, so the quick start always prints the same
// token. A token file whose client was removed brings the client back.
func (c *Clients) QuickStartToken(ctx context.Context, dir string) (string, error) {
	const name = "quickstart"
	path := filepath.Join(dir, "scim-token")
	if b, err := os.ReadFile(path); err == nil {
		token := strings.TrimSpace(string(b))
		cl, err := c.ByToken(ctx, token)
		if err != nil {
			return "", err
		}
		if cl == nil {
			_ = c.Remove(ctx, name)
			if err := c.AddWithToken(ctx, name, "generic", ScopeWrite, token); err != nil {
				return "", err
			}
		}
		return token, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	_ = c.Remove(ctx, name)
	token, err := c.Add(ctx, name, "generic", ScopeWrite)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("scim: keep the quick start token: %w", err)
	}
	return token, nil
}
