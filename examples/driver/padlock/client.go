package padlock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// api is a small client of the Padlock Cloud REST API.
type api struct {
	base  string
	token string
	http  *http.Client
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Message string `json:"error"`
	ID      string `json:"id"`
}

func (e *apiError) Error() string { return fmt.Sprintf("padlock cloud: %d %s", e.Status, e.Message) }

// kindOf maps an HTTP status to the driver error kind: the host's retry and
// escalation decisions hang on this.
func kindOf(status int) driver.Kind {
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return driver.KindInvalid
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return driver.KindPermission
	case status == http.StatusNotFound:
		return driver.KindNotFound
	case status == http.StatusConflict:
		return driver.KindConflict
	case status == http.StatusTooManyRequests || status >= 500:
		return driver.KindTransient
	default:
		return driver.KindUnknown
	}
}

// do sends one request; errors are *driver.Error named by op.
func (a *api) do(ctx context.Context, op, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return driver.E(driver.KindInvalid, op, err)
		}
		body = bytes.NewReader(b)
	}
	u := a.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return driver.E(driver.KindInvalid, op, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		// Unreachable, reset, timed out: worth retrying.
		return driver.E(driver.KindTransient, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return driver.E(driver.KindTransient, op, err)
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		de := driver.E(kindOf(resp.StatusCode), op, e)
		if de.Kind == driver.KindTransient {
			de.RetryAfter = time.Second
		}
		return de
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return driver.Errorf(driver.KindUnknown, op, "decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// pages walks an offset-paged list from cursor on.
func pages[A, T any](ctx context.Context, a *api, op, path string, cursor string, size int,
	conv func(A) T, yield func(driver.Page[T]) error,
) error {
	for {
		q := url.Values{"limit": {fmt.Sprint(size)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p struct {
			Items []A    `json:"items"`
			Next  string `json:"next"`
		}
		if err := a.do(ctx, op, http.MethodGet, path, q, nil, &p); err != nil {
			return err
		}
		items := make([]T, len(p.Items))
		for i, it := range p.Items {
			items[i] = conv(it)
		}
		if err := yield(driver.Page[T]{Items: items, Next: p.Next}); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		cursor = p.Next
	}
}

func apiStatus(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}
