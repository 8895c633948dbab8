package scim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The OAuth 2.0 client-credentials endpoint (RFC 6749 §4.4) at
// {base}/oauth/token: a client authenticates with its name and token (HTTP Basic
// or client_id/client_secret in the form) and receives a short-lived bearer
// token signed with HMAC-SHA256. Signed tokens name the client; removing the
// client stops them at once.
//
// TODO: the signing key lives in memory unless Config.TokenKey sets it, so a
// restart invalidates the access tokens issued before it; clients then fetch a
// new one, as they would at expiry.

const accessTokenPrefix = "kwt."

type accessClaims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

func (s *server) tokenKey() []byte {
	s.keyOnce.Do(func() {
		if len(s.cfg.TokenKey) > 0 {
			s.key = s.cfg.TokenKey
			return
		}
		s.key = make([]byte, 32)
		_, _ = rand.Read(s.key)
	})
	return s.key
}

func (s *server) sign(c accessClaims) string {
	body, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, s.tokenKey())
	m.Write([]byte(p))
	return accessTokenPrefix + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the client name an access token was issued to, "" when the
// token is forged or expired.
func (s *server) verify(tok string) string {
	rest, ok := strings.CutPrefix(tok, accessTokenPrefix)
	if !ok {
		return ""
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	m := hmac.New(sha256.New, s.tokenKey())
	m.Write([]byte(p))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return ""
	}
	var c accessClaims
	if json.Unmarshal(raw, &c) != nil || s.eng.Now().Unix() >= c.Exp {
		return ""
	}
	return c.Sub
}

// serveToken answers the token endpoint with RFC 6749 §5 JSON.
func (s *server) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthErr(http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	cl, err := s.cfg.Clients.ByBasic(r.Context(), id, secret)
	if err != nil {
		oauthErr(http.StatusServiceUnavailable, "temporarily_unavailable", "keyward cannot check credentials right now")
		return
	}
	if cl == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="keyward"`)
		oauthErr(http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	ttl := s.cfg.AccessTokenTTL
	tok := s.sign(accessClaims{Sub: cl.Name, Exp: s.eng.Now().Add(ttl).Unix()})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(ttl / time.Second), "scope": string(cl.Scope)})
}
