package ldap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store/sqlite"
)

const (
	testBase   = "dc=example,dc=org"
	testSecret = "s3cret-reader"
)

// testCert is a self-signed certificate for 127.0.0.1 and the CA file clients trust.
type testCert struct {
	server *tls.Config
	client *tls.Config
	caFile string
}

var (
	certOnce sync.Once
	certVal  testCert
	hashOnce sync.Once
	hashVal  string
)

func newTestCert(t testing.TB) testCert {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "keyward test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
			DNSNames:     []string{"localhost"},
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IsCA:         true, BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		dir, err := os.MkdirTemp("", "keyward-ldap-cert")
		require.NoError(t, err)
		caFile := filepath.Join(dir, "ca.pem")
		require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
		certVal = testCert{
			server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}},
			client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
			caFile: caFile,
		}
	})
	return certVal
}

func secretHash(t testing.TB) string {
	hashOnce.Do(func() {
		// The minimum cost keeps binds fast under the race detector; production
		// hashes come from HashSecret.
		h, err := bcrypt.GenerateFromPassword([]byte(testSecret), bcrypt.MinCost)
		require.NoError(t, err)
		hashVal = string(h)
	})
	return hashVal
}

// stack is a real SQLite store, the engine and a running view.
type stack struct {
	eng   *engine.Engine
	srv   *Server
	cert  testCert
	ids   map[string]string // userName → identity id
	ents  map[string]string // entitlement name → id
	start time.Time
}

func testConfig(t testing.TB) Config {
	cert := newTestCert(t)
	return Config{
		BaseDN:  testBase,
		Addr:    "127.0.0.1:0",
		TLSAddr: "127.0.0.1:0",
		TLS:     cert.server,
		Accounts: []Account{
			{Name: "reader", SecretHash: secretHash(t)},
			{Name: "iga", SecretHash: secretHash(t), Write: true},
		},
		RefreshInterval: 50 * time.Millisecond,
	}
}

// newStack seeds people user000…, entitlements lock-00…, and grants, then starts
// the view with cfg (zero: testConfig).
func newStack(t testing.TB, people, groups int, grants [][2]int, mod func(*Config)) *stack {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyward.db"), sqlite.WithRelaxedSync())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	eng := engine.New(st, engine.Options{})
	s := &stack{eng: eng, ids: map[string]string{}, ents: map[string]string{}, start: time.Now().UTC(), cert: newTestCert(t)}
	actor := engine.Actor{Name: "test"}
	var steps []engine.Step
	for i := range people {
		steps = append(steps, engine.UpsertIdentity{Identity: &domain.Identity{
			UserName: fmt.Sprintf("user%03d", i), Active: true,
			Name:           domain.PersonName{GivenName: "Given", FamilyName: fmt.Sprintf("Family%03d", i)},
			DisplayName:    fmt.Sprintf("User %03d", i),
			EmployeeNumber: fmt.Sprintf("E%05d", i),
			Emails:         []domain.Contact{{Value: fmt.Sprintf("user%03d@example.org", i), Primary: true}},
			Location:       "North", ContractStatus: "employee", Projects: []string{"p1", "p2"},
		}})
	}
	for i := range groups {
		steps = append(steps, engine.DefineEntitlement{Entitlement: &domain.Entitlement{
			Name: fmt.Sprintf("lock-%02d", i), Description: fmt.Sprintf("Door %d", i), Criticality: domain.CriticalityHigh, Owner: "facility",
		}})
	}
	if len(steps) > 0 {
		res, err := eng.Execute(ctx, actor, steps...)
		require.NoError(t, err)
		for i := range people {
			s.ids[fmt.Sprintf("user%03d", i)] = res.IDs[i]
		}
		for i := range groups {
			s.ents[fmt.Sprintf("lock-%02d", i)] = res.IDs[people+i]
		}
	}
	steps = steps[:0]
	for _, g := range grants {
		steps = append(steps, engine.Grant{IdentityID: s.ids[fmt.Sprintf("user%03d", g[0])], EntitlementID: s.ents[fmt.Sprintf("lock-%02d", g[1])]})
	}
	if len(steps) > 0 {
		_, err := eng.Execute(ctx, actor, steps...)
		require.NoError(t, err)
	}
	cfg := testConfig(t)
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(eng, cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() { _ = srv.Stop() })
	s.srv = srv
	return s
}

func (s *stack) dial(t testing.TB) *goldap.Conn {
	c, err := goldap.DialURL("ldaps://"+s.srv.TLSAddr(), goldap.DialWithTLSConfig(s.cert.client))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *stack) bind(t testing.TB, account string) *goldap.Conn {
	c := s.dial(t)
	require.NoError(t, c.Bind(s.srv.BindDN(account), testSecret))
	return c
}

var depsOnce sync.Once

// needTool finds an ldap-utils or slapd binary, running the project's install
// script once when it is missing, and skips the test when installing is impossible.
func needTool(t testing.TB, name string) string {
	find := func() string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin"} {
			if p := filepath.Join(d, name); fileExists(p) {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	depsOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "scripts", "ldap-deps.sh")
		out, err := exec.Command(script).CombinedOutput()
		t.Logf("ran %s: %v\n%s", script, err, out)
	})
	p := find()
	if p == "" {
		t.Skipf("%s is not installed and scripts/ldap-deps.sh could not install it (needs root and apt-get)", name)
	}
	return p
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ldapTool runs an ldap-utils command trusting the test CA.
func (s *stack) ldapTool(t testing.TB, name string, stdin string, args ...string) (string, error) {
	bin := needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "LDAPCONF=/dev/null", "LDAPRC=/dev/null", "LDAPTLS_CACERT="+s.cert.caFile, "LDAPTLS_REQCERT=demand")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
