package driver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeHostEnv) == "1" {
		fakeHost()
	}
	drivertest.Main(m, driver.ServeConfig{Name: "echo", New: newEchoDriver})
}

// connect serves impl over a real gRPC connection in this process.
func connect(t testing.TB, impl driver.Driver) *driver.Client {
	client, _ := plugin.TestPluginGRPCConn(t, false, driver.PluginSet(impl))
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(driver.PluginName)
	require.NoError(t, err)
	return raw.(*driver.Client)
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	impl := sample()
	c := connect(t, impl)

	t.Run("info", func(t *testing.T) {
		got, err := c.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, impl.info, got)
	})
	t.Run("configure", func(t *testing.T) {
		cfg := driver.Config{LockSystem: "ls", Settings: []byte(`{"url":"x"}`), Secrets: map[string]string{"token": "s"}}
		require.NoError(t, c.Configure(ctx, cfg))
		assert.Equal(t, cfg, impl.lastRequest())
	})
	t.Run("health", func(t *testing.T) {
		h, err := c.Health(ctx)
		require.NoError(t, err)
		assert.Equal(t, driver.Health{Status: driver.HealthServing, CheckedAt: t0}, h)
	})
	t.Run("list keys", func(t *testing.T) {
		var pages []driver.Page[driver.Key]
		req := driver.ListRequest{Cursor: "c0", PageSize: 2}
		require.NoError(t, c.ListKeys(ctx, req, func(p driver.Page[driver.Key]) error {
			pages = append(pages, p)
			return nil
		}))
		assert.Equal(t, req, impl.lastRequest())
		require.Len(t, pages, 2)
		assert.Equal(t, []driver.Key{impl.key, impl.key}, pages[0].Items)
		assert.Equal(t, "p2", pages[0].Next)
		assert.Empty(t, pages[1].Next)
	})
	t.Run("list others", func(t *testing.T) {
		var n int
		count := func(k int) { n += k }
		require.NoError(t, c.ListLocks(ctx, driver.ListRequest{}, func(p driver.Page[driver.Lock]) error {
			assert.Equal(t, impl.lock, p.Items[0])
			count(len(p.Items))
			return nil
		}))
		require.NoError(t, c.ListPersons(ctx, driver.ListRequest{}, func(p driver.Page[driver.Person]) error {
			assert.Equal(t, impl.person, p.Items[0])
			count(len(p.Items))
			return nil
		}))
		require.NoError(t, c.ListAccessObjects(ctx, driver.ListRequest{}, func(p driver.Page[driver.AccessObject]) error {
			assert.Equal(t, impl.ao, p.Items[0])
			count(len(p.Items))
			return nil
		}))
		assert.Equal(t, 9, n)
	})
	t.Run("yield error stops the stream", func(t *testing.T) {
		stop := errors.New("enough")
		pages := 0
		err := c.ListLocks(ctx, driver.ListRequest{}, func(driver.Page[driver.Lock]) error {
			pages++
			return stop
		})
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 1, pages)
	})
	t.Run("writes", func(t *testing.T) {
		p, err := c.EnsurePerson(ctx, driver.EnsurePersonRequest{IdempotencyKey: "i1", Person: impl.person})
		require.NoError(t, err)
		assert.Equal(t, impl.person, p)
		assert.Equal(t, driver.EnsurePersonRequest{IdempotencyKey: "i1", Person: impl.person}, impl.lastRequest())

		k, err := c.AssignKey(ctx, driver.AssignKeyRequest{IdempotencyKey: "i2", KeyID: "K1", PersonID: "P1"})
		require.NoError(t, err)
		assert.Equal(t, impl.key, k)
		assert.Equal(t, driver.AssignKeyRequest{IdempotencyKey: "i2", KeyID: "K1", PersonID: "P1"}, impl.lastRequest())
		_, err = c.ReturnKey(ctx, driver.KeyRequest{IdempotencyKey: "i3", KeyID: "K1"})
		require.NoError(t, err)
		assert.Equal(t, driver.KeyRequest{IdempotencyKey: "i3", KeyID: "K1"}, impl.lastRequest())
		_, err = c.ReportKeyLost(ctx, driver.KeyRequest{IdempotencyKey: "i4", KeyID: "K1"})
		require.NoError(t, err)

		req := driver.SetKeyAccessRequest{IdempotencyKey: "i5", KeyID: "K1", Access: impl.key.Planned}
		d, err := c.SetKeyAccess(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, impl.deliv, d)
		assert.Equal(t, req, impl.lastRequest())
		pl, err := c.Plan(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, impl.plan, pl)

		breq := driver.BlockKeyRequest{IdempotencyKey: "i6", KeyID: "K1", Reason: "lost"}
		b, err := c.BlockKey(ctx, breq)
		require.NoError(t, err)
		assert.Equal(t, impl.block, b)
		assert.Equal(t, breq, impl.lastRequest())
		_, err = c.UnblockKey(ctx, breq)
		require.NoError(t, err)
	})
	t.Run("changes", func(t *testing.T) {
		var got []driver.Change
		require.NoError(t, c.Changes(ctx, driver.ChangesRequest{Cursor: "0"}, func(ch driver.Change) error {
			got = append(got, ch)
			return nil
		}))
		assert.Equal(t, impl.changes, got)
	})
	t.Run("webhook", func(t *testing.T) {
		h := http.Header{"X-Sig": {"good"}, "X-Multi": {"a", "b"}}
		got, err := c.HandleWebhook(ctx, driver.Webhook{Header: h, Body: []byte("{}")})
		require.NoError(t, err)
		assert.Equal(t, impl.changes[:1], got)
		assert.Equal(t, driver.Webhook{Header: h, Body: []byte("{}")}, impl.lastRequest())
		_, err = c.HandleWebhook(ctx, driver.Webhook{Header: http.Header{"X-Sig": {"bad"}}})
		assert.Equal(t, driver.KindUnauthenticated, driver.KindOf(err))
	})
}

func TestErrorKindsSurviveTheBoundary(t *testing.T) {
	ctx := context.Background()
	impl := sample()
	c := connect(t, impl)
	na := &driver.NeedsAction{ReasonCode: "3", Reason: "hand over", Action: driver.ActionHandOverKey}
	cases := []struct {
		name string
		err  error
		want *driver.Error
		is   error
	}{
		{"invalid with problems", driver.Invalid("echo: configure",
			driver.Problem{Field: "url", Message: "required"}, driver.Problem{Field: "page_size", Message: "1..200"}),
			&driver.Error{Kind: driver.KindInvalid, Op: "echo: configure", Problems: []driver.Problem{
				{Field: "url", Message: "required"}, {Field: "page_size", Message: "1..200"}}}, driver.ErrInvalid},
		{"not found", driver.Errorf(driver.KindNotFound, "echo: set", "key %s", "K9"),
			&driver.Error{Kind: driver.KindNotFound, Op: "echo: set", Err: errors.New("key K9")}, driver.ErrNotFound},
		{"permission", driver.E(driver.KindPermission, "echo: list", errors.New("401")),
			&driver.Error{Kind: driver.KindPermission, Op: "echo: list", Err: errors.New("401")}, driver.ErrPermission},
		{"transient with retry", &driver.Error{Kind: driver.KindTransient, Op: "echo", Err: errors.New("503"), RetryAfter: 2 * time.Second},
			&driver.Error{Kind: driver.KindTransient, Op: "echo", Err: errors.New("503"), RetryAfter: 2 * time.Second}, driver.ErrTransient},
		{"conflict", driver.E(driver.KindConflict, "echo", errors.New("edited")),
			&driver.Error{Kind: driver.KindConflict, Op: "echo", Err: errors.New("edited")}, driver.ErrConflict},
		{"needs action", &driver.Error{Kind: driver.KindNeedsAction, Op: "echo", NeedsAction: na},
			&driver.Error{Kind: driver.KindNeedsAction, Op: "echo", NeedsAction: na}, driver.ErrNeedsAction},
		{"unauthenticated", driver.E(driver.KindUnauthenticated, "echo: webhook", errors.New("bad signature")),
			&driver.Error{Kind: driver.KindUnauthenticated, Op: "echo: webhook", Err: errors.New("bad signature")}, driver.ErrUnauthenticated},
		{"wrapped", fmt.Errorf("outer: %w", driver.E(driver.KindNotFound, "echo", errors.New("gone"))),
			&driver.Error{Kind: driver.KindNotFound, Op: "echo", Err: errors.New("gone")}, driver.ErrNotFound},
		{"plain error is unknown", errors.New("boom"),
			&driver.Error{Kind: driver.KindUnknown, Err: errors.New("boom")}, nil},
		{"deadline is transient", context.DeadlineExceeded,
			&driver.Error{Kind: driver.KindTransient, Err: context.DeadlineExceeded}, driver.ErrTransient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			impl.mu.Lock()
			impl.err = tc.err
			impl.mu.Unlock()
			_, err := c.SetKeyAccess(ctx, driver.SetKeyAccessRequest{IdempotencyKey: "x", KeyID: "K1"})
			var got *driver.Error
			require.ErrorAs(t, err, &got)
			assert.Equal(t, tc.want.Kind, got.Kind)
			assert.Equal(t, tc.want.Op, got.Op)
			assert.Equal(t, tc.want.Problems, got.Problems)
			assert.Equal(t, tc.want.NeedsAction, got.NeedsAction)
			assert.Equal(t, tc.want.RetryAfter, got.RetryAfter)
			if tc.want.Err != nil {
				assert.EqualError(t, got.Err, tc.want.Err.Error())
			}
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
	impl.mu.Lock()
	impl.err = nil
	impl.mu.Unlock()
}

func TestErrorText(t *testing.T) {
	cases := []struct {
		name string
		err  *driver.Error
		want string
	}{
		{"op and message", driver.Errorf(driver.KindNotFound, "iloq: set key access", "key %s", "K1"), "iloq: set key access: key K1"},
		{"kind only", &driver.Error{Kind: driver.KindTransient}, "transient"},
		{"problems", driver.Invalid("x: configure", driver.Problem{Field: "url", Message: "required"},
			driver.Problem{Message: "bad"}), "x: configure: url: required; bad"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.err.Error()) })
	}
	assert.Equal(t, "needs_action", driver.KindNeedsAction.String())
	assert.Equal(t, driver.KindUnknown, driver.KindOf(errors.New("x")))
	assert.False(t, errors.Is(driver.E(driver.KindNotFound, "", nil), driver.ErrConflict))
}

func TestChangesFollowEndsOnCancel(t *testing.T) {
	impl := sample()
	c := connect(t, impl)
	ctx, cancel := context.WithCancel(context.Background())
	got := 0
	err := c.Changes(ctx, driver.ChangesRequest{Follow: true, PollInterval: 5 * time.Millisecond}, func(ch driver.Change) error {
		got++
		if got == len(impl.changes) {
			cancel()
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, len(impl.changes), got, "follow hands each change out once")
}

func TestNewClientConfig(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	sum, err := driver.FileSHA256(exe)
	require.NoError(t, err)

	t.Run("bad pins", func(t *testing.T) {
		for _, pin := range []string{"", "abc", "zz" + sum[2:], sum + "00"} {
			_, err := driver.NewClientConfig(driver.LaunchConfig{Binary: exe, SHA256: pin})
			assert.Error(t, err, "pin %q", pin)
		}
	})
	t.Run("settings", func(t *testing.T) {
		cfg, err := driver.NewClientConfig(driver.LaunchConfig{Binary: exe, SHA256: sum, Env: []string{"A=1"}})
		require.NoError(t, err)
		assert.True(t, cfg.AutoMTLS)
		assert.True(t, cfg.SkipHostEnv)
		assert.Equal(t, []plugin.Protocol{plugin.ProtocolGRPC}, cfg.AllowedProtocols)
		assert.NotNil(t, cfg.SecureConfig)
		assert.Equal(t, []string{"A=1"}, cfg.Cmd.Env)
		assert.Equal(t, driver.Handshake, cfg.HandshakeConfig)
		if runtime.GOOS == "linux" {
			require.NotNil(t, cfg.Cmd.SysProcAttr)
			assert.NotZero(t, cfg.Cmd.SysProcAttr.Pdeathsig, "drivers die with the host")
		}
	})
	t.Run("subprocess round trip", func(t *testing.T) {
		cfg, err := driver.NewClientConfig(driver.LaunchConfig{Binary: exe, SHA256: sum, Env: []string{"KEYWARD_DRIVERTEST_SERVE=1"}})
		require.NoError(t, err)
		pc := plugin.NewClient(cfg)
		defer pc.Kill()
		c, err := driver.Dispense(pc)
		require.NoError(t, err)
		info, err := c.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "echo", info.Vendor)
		assert.Equal(t, driver.ContractVersion, pc.NegotiatedVersion())
	})
	t.Run("tampered binary refused", func(t *testing.T) {
		wrong := "00" + sum[2:]
		if wrong == sum {
			wrong = "11" + sum[2:]
		}
		cfg, err := driver.NewClientConfig(driver.LaunchConfig{Binary: exe, SHA256: wrong, Env: []string{"KEYWARD_DRIVERTEST_SERVE=1"}})
		require.NoError(t, err)
		pc := plugin.NewClient(cfg)
		defer pc.Kill()
		_, err = driver.Dispense(pc)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "checksum")
	})
}

// TestChangesLargeEvents streams large changes (7 MB in all): they arrive
// complete and in order across size-cut batches.
func TestChangesLargeEvents(t *testing.T) {
	impl := sample()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("access-object-%06d", i)
	}
	impl.changes = nil
	for i := range 300 {
		impl.changes = append(impl.changes, driver.Change{
			ID: fmt.Sprint(i), Cursor: fmt.Sprint(i + 1), Kind: driver.ChangeKeyState, At: t0,
			KeyState: &driver.KeyStateChange{KeyID: "K1", State: driver.KeyHandedOut,
				Programmed: &driver.KeyAccess{AccessObjectIDs: ids}},
		})
	}
	c := connect(t, impl)
	got := 0
	require.NoError(t, c.Changes(context.Background(), driver.ChangesRequest{}, func(ch driver.Change) error {
		assert.Equal(t, fmt.Sprint(got), ch.ID)
		got++
		assert.Len(t, ch.KeyState.Programmed.AccessObjectIDs, len(ids))
		return nil
	}))
	assert.Equal(t, 300, got)
}
