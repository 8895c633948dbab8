package simctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The admin HTTP endpoint, relative to where NewHandler is mounted:
//
//	POST /keys/{key}/deliver   {"via": "phone-sync"}        deliver pending update
//	POST /locks/{lock}/visit                                visit with programming key
//	POST /use                  {"key_id": …, "lock_id": …}  → UseResult
//	GET  /clock                                             → {"now": RFC 3339}
//	PUT  /clock                {"now": RFC 3339}            set the clock
//	POST /clock/advance        {"by": "90m"}                advance the clock
//	POST /crash, POST /restart
//	GET  /requests?since=N                                  → []Request
//	GET  /webhooks?since=N                                  → []Webhook
//
// Errors are JSON {"error": message, "code": "not_found" | "unsupported" |
// "crashed" | "invalid" | "internal"} with a matching HTTP status; the client
// restores the package's sentinels from the code.

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

type deliverBody struct {
	Via Via `json:"via"`
}

type useBody struct {
	KeyID  string `json:"key_id"`
	LockID string `json:"lock_id"`
}

type clockBody struct {
	Now time.Time `json:"now"`
}

type advanceBody struct {
	By string `json:"by"`
}

// maxBody bounds admin request bodies.
const maxBody = 1 << 20

// NewHandler serves c over the admin HTTP endpoint described above. Mount it
// on a loopback-only listener: it has no authentication.
func NewHandler(c Control) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /keys/{key}/deliver", func(w http.ResponseWriter, r *http.Request) {
		var b deliverBody
		if !decode(w, r, &b, true) {
			return
		}
		reply(w, nil, c.DeliverKey(r.Context(), r.PathValue("key"), b.Via))
	})
	mux.HandleFunc("POST /locks/{lock}/visit", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, c.VisitLock(r.Context(), r.PathValue("lock")))
	})
	mux.HandleFunc("POST /use", func(w http.ResponseWriter, r *http.Request) {
		var b useBody
		if !decode(w, r, &b, false) {
			return
		}
		res, err := c.UseKey(r.Context(), b.KeyID, b.LockID)
		reply(w, res, err)
	})
	mux.HandleFunc("GET /clock", func(w http.ResponseWriter, r *http.Request) {
		now, err := c.Now(r.Context())
		reply(w, clockBody{Now: now}, err)
	})
	mux.HandleFunc("PUT /clock", func(w http.ResponseWriter, r *http.Request) {
		var b clockBody
		if !decode(w, r, &b, false) {
			return
		}
		reply(w, nil, c.SetTime(r.Context(), b.Now))
	})
	mux.HandleFunc("POST /clock/advance", func(w http.ResponseWriter, r *http.Request) {
		var b advanceBody
		if !decode(w, r, &b, false) {
			return
		}
		d, err := time.ParseDuration(b.By)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("advance: %q is not a positive duration", b.By))
			return
		}
		reply(w, nil, c.Advance(r.Context(), d))
	})
	mux.HandleFunc("POST /crash", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, c.Crash(r.Context()))
	})
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, c.Restart(r.Context()))
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		since, ok := sinceParam(w, r)
		if !ok {
			return
		}
		reqs, err := c.Requests(r.Context(), since)
		reply(w, nonNil(reqs), err)
	})
	mux.HandleFunc("GET /webhooks", func(w http.ResponseWriter, r *http.Request) {
		since, ok := sinceParam(w, r)
		if !ok {
			return
		}
		hooks, err := c.Webhooks(r.Context(), since)
		reply(w, nonNil(hooks), err)
	})
	return mux
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sinceParam(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("since: %q is not a sequence number", v))
		return 0, false
	}
	return n, true
}

func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "read body: "+err.Error())
		return false
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid", "body too large")
		return false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "decode body: "+err.Error())
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil && v == nil:
		w.WriteHeader(http.StatusNoContent)
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrUnsupported):
		writeError(w, http.StatusNotImplemented, "unsupported", err.Error())
	case errors.Is(err, ErrCrashed):
		writeError(w, http.StatusServiceUnavailable, "crashed", err.Error())
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: msg, Code: code})
}

// Client reaches a simulator's admin HTTP endpoint; it implements Control.
type Client struct {
	base string
	http *http.Client
}

var _ Control = (*Client)(nil)

// NewClient returns a Control for the admin endpoint at base (e.g.
// "http://127.0.0.1:8081/admin"). A nil hc uses a client with a 10s timeout.
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: strings.TrimSuffix(base, "/"), http: hc}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("simctl %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("simctl %s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		_ = json.Unmarshal(data, &eb)
		var sentinel error
		switch eb.Code {
		case "not_found":
			sentinel = ErrNotFound
		case "unsupported":
			sentinel = ErrUnsupported
		case "crashed":
			sentinel = ErrCrashed
		case "invalid":
			sentinel = ErrInvalid
		}
		if sentinel != nil {
			msg := strings.TrimSuffix(strings.TrimSuffix(eb.Error, sentinel.Error()), ": ")
			return fmt.Errorf("simctl %s %s: %s: %w", method, path, msg, sentinel)
		}
		return fmt.Errorf("simctl %s %s: %s: %s", method, path, resp.Status, eb.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("simctl %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// DeliverKey implements Control.
func (c *Client) DeliverKey(ctx context.Context, keyID string, via Via) error {
	return c.do(ctx, http.MethodPost, "/keys/"+url.PathEscape(keyID)+"/deliver", deliverBody{Via: via}, nil)
}

// VisitLock implements Control.
func (c *Client) VisitLock(ctx context.Context, lockID string) error {
	return c.do(ctx, http.MethodPost, "/locks/"+url.PathEscape(lockID)+"/visit", nil, nil)
}

// UseKey implements Control.
func (c *Client) UseKey(ctx context.Context, keyID, lockID string) (UseResult, error) {
	var res UseResult
	err := c.do(ctx, http.MethodPost, "/use", useBody{KeyID: keyID, LockID: lockID}, &res)
	return res, err
}

// Now implements Control.
func (c *Client) Now(ctx context.Context) (time.Time, error) {
	var b clockBody
	err := c.do(ctx, http.MethodGet, "/clock", nil, &b)
	return b.Now, err
}

// SetTime implements Control.
func (c *Client) SetTime(ctx context.Context, t time.Time) error {
	return c.do(ctx, http.MethodPut, "/clock", clockBody{Now: t}, nil)
}

// Advance implements Control.
func (c *Client) Advance(ctx context.Context, d time.Duration) error {
	return c.do(ctx, http.MethodPost, "/clock/advance", advanceBody{By: d.String()}, nil)
}

// Crash implements Control.
func (c *Client) Crash(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/crash", nil, nil)
}

// Restart implements Control.
func (c *Client) Restart(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/restart", nil, nil)
}

// Requests implements Control.
func (c *Client) Requests(ctx context.Context, since int64) ([]Request, error) {
	var out []Request
	err := c.do(ctx, http.MethodGet, "/requests?since="+strconv.FormatInt(since, 10), nil, &out)
	return out, err
}

// Webhooks implements Control.
func (c *Client) Webhooks(ctx context.Context, since int64) ([]Webhook, error) {
	var out []Webhook
	err := c.do(ctx, http.MethodGet, "/webhooks?since="+strconv.FormatInt(since, 10), nil, &out)
	return out, err
}
