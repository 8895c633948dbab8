package ldap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// QuickStart is what the quick start needs to serve the view over TLS with a
// service account: a self-signed certificate and a secret, both created on the
// first run and kept in files so later runs print the same command.
type QuickStart struct {
	// TLS serves LDAPS and StartTLS with the generated certificate.
	TLS *tls.Config
	// CAFile is the certificate, for clients to trust (LDAPTLS_CACERT).
	CAFile string
	// Account is the quick-start service account (with write rights).
	Account Account
	// Secret is the account's secret, read from SecretFile.
	Secret     string
	SecretFile string
}

// PrepareQuickStart creates or reuses, in dir, ldap-cert.pem and ldap-key.pem (a
// certificate for 127.0.0.1 and localhost) and ldap-<account>.secret, all 0600.
func PrepareQuickStart(dir, account string) (*QuickStart, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ldap quick start: %w", err)
	}
	certFile, keyFile := filepath.Join(dir, "ldap-cert.pem"), filepath.Join(dir, "ldap-key.pem")
	if !fileExistsQS(certFile) || !fileExistsQS(keyFile) {
		if err := writeSelfSigned(certFile, keyFile); err != nil {
			return nil, fmt.Errorf("ldap quick start: certificate: %w", err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("ldap quick start: load certificate: %w", err)
	}
	secretFile := filepath.Join(dir, "ldap-"+account+".secret")
	secret, err := readOrCreateSecret(secretFile)
	if err != nil {
		return nil, fmt.Errorf("ldap quick start: secret: %w", err)
	}
	hash, err := HashSecret(secret)
	if err != nil {
		return nil, err
	}
	return &QuickStart{
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		CAFile:  certFile,
		Account: Account{Name: account, SecretHash: hash, Write: true},
		Secret:  secret, SecretFile: secretFile,
	}, nil
}

// Command returns a working ldapsearch command line that pages through ou=people
// over LDAPS at addr (host:port) as the quick-start account.
func (q *QuickStart) Command(addr, baseDN string) string {
	bindDN := "cn=" + q.Account.Name + ",ou=system," + baseDN
	return fmt.Sprintf("LDAPTLS_CACERT=%s ldapsearch -x -H ldaps://%s -D '%s' -y %s -b 'ou=people,%s' -E pr=100/noprompt '(objectClass=inetOrgPerson)' uid cn memberOf",
		q.CAFile, addr, bindDN, q.SecretFile, baseDN)
}

func readOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s is empty", path)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var r [24]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(r[:])
	// No trailing newline: ldapsearch -y reads the file's bytes as the password.
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "keyward quick start"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(2, 0, 0),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func fileExistsQS(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
