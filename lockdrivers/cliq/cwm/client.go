package cwm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the CWM host, such as "https://cwm.example.com". The query
	// endpoint is BaseURL + QueryPath, the management endpoint BaseURL +
	// AssumedManagementPath, unless overridden below. Must be https.
	BaseURL string
	// QueryURL overrides the query API v2 endpoint.
	QueryURL string
	// ManagementURL overrides the (assumed) management endpoint.
	ManagementURL string
	// PKCS12 is the integration's client certificate file (.pfx) content.
	PKCS12 []byte
	// Passphrase unlocks PKCS12.
	Passphrase string
	// RootCAs verifies CWM's server certificate; nil means the system pool.
	RootCAs *x509.CertPool
	// Timeout bounds one SOAP call; zero means 60 s.
	Timeout time.Duration
	// Now is the clock used to check certificate validity; nil means
	// time.Now.
	Now func() time.Time
}

// Client calls a CWM. It is safe for concurrent use.
type Client struct {
	http          *http.Client
	queryURL      string
	managementURL string
}

// LoadCertificate decodes a PKCS#12 file into a TLS client certificate with
// its chain. It refuses a wrong passphrase, a file without a private key,
// and a certificate that is not valid at now, each with a clear message.
func LoadCertificate(pfx []byte, passphrase string, now time.Time) (tls.Certificate, error) {
	if len(pfx) == 0 {
		return tls.Certificate{}, errors.New("cwm: client certificate: no PKCS#12 data (CWM requires a client certificate)")
	}
	key, leaf, chain, err := pkcs12.DecodeChain(pfx, passphrase)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return tls.Certificate{}, errors.New("cwm: client certificate: wrong passphrase for the PKCS#12 file")
		}
		return tls.Certificate{}, fmt.Errorf("cwm: client certificate: cannot read PKCS#12 file: %w", err)
	}
	if key == nil || leaf == nil {
		return tls.Certificate{}, errors.New("cwm: client certificate: PKCS#12 file holds no private key and certificate")
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, fmt.Errorf("cwm: client certificate %q is not valid before %s",
			leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("cwm: client certificate %q expired at %s",
			leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// New returns a Client. It fails, with a message naming the problem, when
// the URL is not https or the client certificate cannot be used.
func New(cfg Config) (*Client, error) {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	queryURL, err := endpoint(cfg.BaseURL, cfg.QueryURL, QueryPath)
	if err != nil {
		return nil, err
	}
	mgmtURL, err := endpoint(cfg.BaseURL, cfg.ManagementURL, AssumedManagementPath)
	if err != nil {
		return nil, err
	}
	cert, err := LoadCertificate(cfg.PKCS12, cfg.Passphrase, now())
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 15 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			RootCAs:      cfg.RootCAs,
			Certificates: []tls.Certificate{cert},
		},
	}
	return &Client{
		http:          &http.Client{Transport: tr, Timeout: timeout},
		queryURL:      queryURL,
		managementURL: mgmtURL,
	}, nil
}

func endpoint(base, override, path string) (string, error) {
	raw := override
	if raw == "" {
		if base == "" {
			return "", errors.New("cwm: no CWM base URL configured")
		}
		raw = strings.TrimSuffix(base, "/") + path
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("cwm: invalid CWM URL %q: %w", raw, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("cwm: CWM URL %q must be an https URL with a host", raw)
	}
	return u.String(), nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// call performs one SOAP request/response exchange.
func (c *Client) call(ctx context.Context, endpointURL, prefix, ns, op string, body, out any) error {
	payload, err := encodeRequest(prefix, ns, op, body)
	if err != nil {
		return &Error{Op: op, Kind: KindInvalid, Err: fmt.Errorf("encode request: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpointURL, bytes.NewReader(payload))
	if err != nil {
		return &Error{Op: op, Kind: KindInvalid, Err: err}
	}
	req.Header.Set("Content-Type", "text/xml;charset=UTF-8")
	// The public client sends the endpoint URL as SOAPAction.
	req.Header.Set("SOAPAction", endpointURL)
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: op, Kind: transportKind(err), Err: err}
	}
	defer resp.Body.Close()
	lr := &io.LimitedReader{R: resp.Body, N: maxResponseBytes + 1}
	err = decodeResponse(lr, ns, op, out)
	if lr.N <= 0 {
		return &Error{Op: op, Kind: KindMalformed, Err: fmt.Errorf("response larger than %d bytes", maxResponseBytes)}
	}
	var ef errFault
	switch {
	case errors.As(err, &ef):
		return &Error{Op: op, Kind: kindOfFault(ef.f), Fault: ef.f}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &Error{Op: op, Kind: KindPermission, Err: fmt.Errorf("HTTP %s", resp.Status)}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &Error{Op: op, Kind: KindTransient, Err: fmt.Errorf("HTTP %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return &Error{Op: op, Kind: KindInvalid, Err: fmt.Errorf("HTTP %s", resp.Status)}
	case err != nil:
		return &Error{Op: op, Kind: KindMalformed, Err: err}
	}
	return nil
}

// transportKind classifies an error of http.Client.Do.
func transportKind(err error) Kind {
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	switch {
	case errors.As(err, &alert), errors.As(err, &verify), errors.As(err, &unknownAuth):
		return KindPermission
	case errors.Is(err, context.Canceled):
		return KindOther
	}
	// A server that refuses our certificate closes the connection with an
	// alert the client may only see as a read error on the first request.
	if strings.Contains(err.Error(), "remote error: tls:") {
		return KindPermission
	}
	return KindTransient
}
