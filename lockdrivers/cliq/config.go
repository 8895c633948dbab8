package cliq

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// Secret names the driver expects in driver.Config.Secrets.
const (
	// SecretClientCertificate is the integration's PKCS#12 (.pfx) client
	// certificate, base64-encoded (standard encoding) or the raw file.
	SecretClientCertificate = "client_certificate"
	// SecretClientCertificatePassphrase unlocks it.
	SecretClientCertificatePassphrase = "client_certificate_passphrase"
)

// Settings is the driver's configuration block (driver.Config.Settings).
//
// Example (YAML in keyward's configuration):
//
//	url: https://cwm.example.com          # CWM host; paths are added
//	caCertificatePEM: |                   # trust for CWM's server cert;
//	  -----BEGIN CERTIFICATE-----         # empty = system roots
//	dynamicKeyTypes: [DYNAMIC_KEY, CONNECT_KEY]
//	revalidationDays: 7                   # 0 = leave keys' setting alone
type Settings struct {
	// URL is the CWM base URL (https). Required.
	URL string `json:"url"`
	// QueryURL and ManagementURL override the endpoints derived from URL.
	QueryURL      string `json:"queryUrl,omitempty"`
	ManagementURL string `json:"managementUrl,omitempty"`
	// CACertificatePEM verifies CWM's server certificate; empty means the
	// system roots.
	CACertificatePEM string `json:"caCertificatePEM,omitempty"`
	// DynamicKeyTypes are the key types that carry their own access list
	// and are updated remotely; default from the driver's Defaults.
	DynamicKeyTypes []string `json:"dynamicKeyTypes,omitempty"`
	// RevalidationDays, when above 0, is enforced on every key whose access
	// keyward sets: it bounds how long a removed right can still be used.
	RevalidationDays int `json:"revalidationDays,omitempty"`
	// TimeoutSeconds bounds one SOAP call; default 60.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
	// AuditStart is where the change stream starts without a cursor
	// (RFC 3339); default 2000-01-01.
	AuditStart string `json:"auditStart,omitempty"`
	// DedupeLookbackHours bounds how far back the driver looks for an
	// earlier copy of a late audit event; default 168 (7 days).
	DedupeLookbackHours int `json:"dedupeLookbackHours,omitempty"`
}

// configSchema is the JSON Schema of Settings.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["url"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "format": "uri", "description": "CWM base URL, https"},
    "queryUrl": {"type": "string", "format": "uri"},
    "managementUrl": {"type": "string", "format": "uri"},
    "caCertificatePEM": {"type": "string"},
    "dynamicKeyTypes": {"type": "array", "items": {"type": "string"}},
    "revalidationDays": {"type": "integer", "minimum": 0, "maximum": 365},
    "timeoutSeconds": {"type": "integer", "minimum": 1},
    "auditStart": {"type": "string", "format": "date-time"},
    "dedupeLookbackHours": {"type": "integer", "minimum": 1}
  }
}`

// settings is the validated configuration.
type settings struct {
	Settings
	cwm      cwm.Config
	dynamic  map[string]bool
	start    time.Time
	lookback time.Duration
}

// parseConfig validates cfg and lists every problem.
func parseConfig(op string, cfg driver.Config, defaults Defaults) (settings, error) {
	var s settings
	var problems []driver.Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, driver.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(bytes.TrimSpace(cfg.Settings)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s.Settings); err != nil {
			add("settings", "not a valid settings object: %v", err)
			return s, driver.Invalid(op, problems...)
		}
	}
	if s.URL == "" {
		add("url", "required: the CWM base URL, e.g. %s", defaults.ExampleURL)
	} else if u, err := url.Parse(s.URL); err != nil || u.Scheme != "https" || u.Host == "" {
		add("url", "must be an https URL, got %q", s.URL)
	}
	for _, f := range []struct{ name, v string }{{"queryUrl", s.QueryURL}, {"managementUrl", s.ManagementURL}} {
		if u, err := url.Parse(f.v); f.v != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
			add(f.name, "must be an https URL, got %q", f.v)
		}
	}
	var roots *x509.CertPool
	if s.CACertificatePEM != "" {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(s.CACertificatePEM)) {
			add("caCertificatePEM", "holds no PEM certificate")
		}
	}
	if s.RevalidationDays < 0 || s.RevalidationDays > 365 {
		add("revalidationDays", "must be 0..365, got %d", s.RevalidationDays)
	}
	if s.TimeoutSeconds < 0 {
		add("timeoutSeconds", "must not be negative")
	}
	s.start = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if s.AuditStart != "" {
		t, err := time.Parse(time.RFC3339, s.AuditStart)
		if err != nil {
			add("auditStart", "not an RFC 3339 time: %v", err)
		}
		s.start = t
	}
	s.lookback = 7 * 24 * time.Hour
	if s.DedupeLookbackHours < 0 {
		add("dedupeLookbackHours", "must not be negative")
	} else if s.DedupeLookbackHours > 0 {
		s.lookback = time.Duration(s.DedupeLookbackHours) * time.Hour
	}
	types := s.DynamicKeyTypes
	if len(types) == 0 {
		types = defaults.DynamicKeyTypes
	}
	s.dynamic = map[string]bool{}
	for _, t := range types {
		s.dynamic[strings.TrimSpace(t)] = true
	}
	pfxB64, ok := cfg.Secrets[SecretClientCertificate]
	var pfx []byte
	if !ok || strings.TrimSpace(pfxB64) == "" {
		add("secrets."+SecretClientCertificate, "required: CWM accepts integrations only with a client certificate (PKCS#12, base64)")
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(pfxB64))
		switch {
		case err == nil:
			pfx = b
		case pfxB64[0] == 0x30:
			// The raw .pfx file (a DER SEQUENCE), as a file secret reference
			// delivers it.
			pfx = []byte(pfxB64)
		default:
			add("secrets."+SecretClientCertificate, "neither base64 nor a PKCS#12 file: %v", err)
		}
	}
	if len(problems) > 0 {
		return s, driver.Invalid(op, problems...)
	}
	timeout := time.Duration(s.TimeoutSeconds) * time.Second
	s.cwm = cwm.Config{BaseURL: s.URL, QueryURL: s.QueryURL, ManagementURL: s.ManagementURL,
		PKCS12: pfx, Passphrase: cfg.Secrets[SecretClientCertificatePassphrase], RootCAs: roots, Timeout: timeout}
	return s, nil
}
