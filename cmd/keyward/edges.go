package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/keyward/keyward/ldap"
	"github.com/keyward/keyward/scim"
)

// scimComponent mounts the SCIM service on the HTTP listener when scim.enabled.
// Options under scim: quickstart_token (keep a write client's bearer token in
// data/scim-token, the same on every run), rate_limit (requests per second per
// client; negative: none).
var scimComponent = component{name: "scim", start: startSCIM}

// ldapComponent serves the LDAP directory view when ldap.enabled. Options under
// ldap: tls_addr (LDAPS), quickstart_account (a write service account whose
// secret and certificate are kept under data/), allow_cleartext_bind.
var ldapComponent = component{name: "ldap", start: startLDAP}

func optString(m map[string]any, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func optBool(m map[string]any, k string) bool {
	v, ok := m[k].(bool)
	return ok && v
}

func startSCIM(ctx context.Context, a *app, s *server) error {
	if !a.cfg.SCIM.Enabled {
		return nil
	}
	clients := scim.NewClients(s.eng)
	if optBool(a.cfg.SCIM.Options, "quickstart_token") {
		if _, err := clients.QuickStartToken(ctx, filepath.Dir(a.cfg.Path(a.cfg.Store.Path))); err != nil {
			return err
		}
	}
	rate := 0.0
	if v, ok := a.cfg.SCIM.Options["rate_limit"]; ok {
		if _, err := fmt.Sscan(fmt.Sprint(v), &rate); err != nil {
			return badInput(fmt.Errorf("scim.rate_limit: %v is not a number", v))
		}
	}
	base := a.cfg.SCIM.BasePath
	if base == "" {
		base = "/scim/v2"
	}
	h, err := scim.NewServer(s.eng, scim.Config{BasePath: base, BaseURL: "http://" + a.cfg.HTTP.Addr + base,
		Clients: clients, RateLimit: rate, Logger: a.log.With("component", "scim")})
	if err != nil {
		return err
	}
	s.mux.Handle(base+"/", h)
	return nil
}

func startLDAP(ctx context.Context, a *app, s *server) error {
	if !a.cfg.LDAP.Enabled {
		return nil
	}
	cfg := ldap.Config{BaseDN: a.cfg.LDAP.BaseDN, Addr: a.cfg.LDAP.Addr, TLSAddr: optString(a.cfg.LDAP.Options, "tls_addr"),
		AllowCleartextBind: optBool(a.cfg.LDAP.Options, "allow_cleartext_bind"), Logger: a.log.With("component", "ldap")}
	if name := optString(a.cfg.LDAP.Options, "quickstart_account"); name != "" {
		qs, err := ldap.PrepareQuickStart(filepath.Dir(a.cfg.Path(a.cfg.Store.Path)), name)
		if err != nil {
			return err
		}
		cfg.TLS, cfg.Accounts = qs.TLS, append(cfg.Accounts, qs.Account)
	}
	srv, err := ldap.NewServer(s.eng, cfg)
	if err != nil {
		return badInput(err)
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	s.goRun(func() {
		<-ctx.Done()
		_ = srv.Stop()
	})
	return nil
}
