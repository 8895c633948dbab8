package sim

import (
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
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// CA is a test certificate authority: it signs the simulator's server
// certificate and the integration client certificates CWM would issue.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA creates a test CA named name, valid for ten years.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"keyward CWM simulator"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA certificate in PEM form.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// issue signs a leaf certificate.
func (ca *CA) issue(cn string, notBefore, notAfter time.Time, server bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// ServerCertificate issues a TLS server certificate for localhost,
// 127.0.0.1 and ::1.
func (ca *CA) ServerCertificate() (tls.Certificate, error) {
	cert, key, err := ca.issue("localhost", time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), true)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// ClientPKCS12 issues an integration client certificate valid from
// notBefore to notAfter and returns it as a PKCS#12 file protected by
// passphrase, like the "<n>-<serial>-WebService.pfx" files CWM issues.
func (ca *CA) ClientPKCS12(cn, passphrase string, notBefore, notAfter time.Time) ([]byte, error) {
	cert, key, err := ca.issue(cn, notBefore, notAfter, false)
	if err != nil {
		return nil, err
	}
	pfx, err := pkcs12.Modern.Encode(key, cert, []*x509.Certificate{ca.Cert}, passphrase)
	if err != nil {
		return nil, fmt.Errorf("sim: encode PKCS#12: %w", err)
	}
	return pfx, nil
}

// ValidClientPKCS12 issues a client certificate valid for a year.
func (ca *CA) ValidClientPKCS12(passphrase string) ([]byte, error) {
	return ca.ClientPKCS12("2-000000001-WebService", passphrase, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
}

// serverTLS is the simulator's TLS configuration: a client certificate
// signed by the CA is required, as CWM requires for integrations.
func serverTLS(ca *CA, cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
}

// CAPoolFromPEM returns a pool of the PEM certificates in b, or nil if it
// holds none (for clients of a simulator started by Run).
func CAPoolFromPEM(b []byte) *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil
	}
	return p
}
