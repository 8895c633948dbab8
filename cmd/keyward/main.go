// Command keyward is the keyward server and its admin CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	_ "time/tzdata" // schedules name IANA time zones; a host without tzdata still knows them

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/estate"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit status: 2 for bad input (config, estate, arguments).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func badInput(err error) error { return &exitError{code: 2, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyward:", err)
		os.Exit(exitCode(err))
	}
}

// cobraUsage are the starts of cobra's own errors about how a command was called.
var cobraUsage = []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "accepts ", "requires at least",
	"requires at most", "invalid argument", "flag needs an argument", "bad flag syntax", "unknown subcommand"}

func exitCode(err error) int {
	for _, p := range cobraUsage {
		if strings.HasPrefix(err.Error(), p) {
			return 2
		}
	}
	var ee *exitError
	var cp *config.Problems
	var ep *estate.ProblemsError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &cp), errors.As(err, &ep), errors.Is(err, domain.ErrInvalid):
		return 2
	}
	return 1
}

// app is what every command shares: the flags, then the loaded config.
type app struct {
	out, errOut io.Writer
	cfgFile     string
	cfg         *config.Config
	log         *slog.Logger
}

func newRoot(out, errOut io.Writer) *cobra.Command {
	a := &app{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "keyward",
		Short:         "Physical access under identity governance",
		Long:          "keyward brings electronic locking systems under identity governance: SCIM and LDAP to the IGA, lock driver plugins to the lock systems, and the governance record in between.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&a.cfgFile, "config", "c", os.Getenv("KEYWARD_CONFIG"), "configuration file (YAML); KEYWARD_* variables override it")
	root.AddCommand(
		a.serveCmd(), a.migrateCmd(), a.applyCmd(), a.grantCmd(), a.keyCmd(), a.auditCmd(), a.whyCmd(), a.reportCmd(), a.clientCmd(), a.versionCmd(),
	)
	groupsRefuseUnknown(root)
	return root
}

// groupsRefuseUnknown makes a command that only groups others (report, grant, key,
// audit, client) refuse an unknown subcommand with an error, instead of printing
// its help and succeeding.
func groupsRefuseUnknown(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupsRefuseUnknown(sub)
	}
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil && c.Parent() != nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown subcommand %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
}

func (a *app) load() error {
	if a.cfg != nil {
		return nil
	}
	cfg, err := config.Load(a.cfgFile)
	if err != nil {
		return badInput(err)
	}
	a.cfg = cfg
	a.log = newLogger(a.errOut, cfg.Log)
	return nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	lvl := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[c.Level]
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured store, applying migrations.
func (a *app) openStore(ctx context.Context, opts ...sqlite.Option) (store.Store, error) {
	return a.openSQLite(ctx, opts...)
}

func (a *app) openSQLite(ctx context.Context, opts ...sqlite.Option) (*sqlite.Store, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	path := a.cfg.Path(a.cfg.Store.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, path, append([]sqlite.Option{sqlite.WithLogger(a.log)}, opts...)...)
}

func (a *app) engine(st store.Store, clock engine.Clock) *engine.Engine {
	return engine.New(st, engine.Options{Clock: clock, Logger: a.log})
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print keyward's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.out, "keyward %s\n", version)
			return nil
		},
	}
}

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's schema migrations (serve does this on start too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openSQLite(cmd.Context(), sqlite.WithoutMigrate())
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := st.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			for _, m := range applied {
				fmt.Fprintf(a.out, "applied migration %04d %s\n", m.Version, m.Name)
			}
			cur, _, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "store %s is at schema version %d\n", st.Path(), cur)
			return nil
		},
	}
}
