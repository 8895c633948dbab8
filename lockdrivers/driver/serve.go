package driver

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Handshake is the go-plugin handshake between keyward and its drivers. The
// magic cookie is a user-experience guard ("this binary is a plugin, run it
// through keyward"), not security: the security is the host's SHA-256 pin of
// the binary (SecureConfig) and AutoMTLS. The cookie key and value are fixed
// forever; changing them breaks every driver ever built.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ContractVersion,
	MagicCookieKey:   "KEYWARD_LOCKDRIVER_MAGIC_COOKIE",
	MagicCookieValue: "2584352398e201ea8567749e2b1b572c",
}

// ServeConfig configures Serve.
type ServeConfig struct {
	// Name names the driver in logs, e.g. "padlock".
	Name string
	// New builds the driver. It gets the driver's logger (hclog, JSON, on
	// stderr, which the host re-levels into its own log). Never write to
	// stdout: it carries the plugin handshake.
	New func(log hclog.Logger) Driver
	// Level is the log level; default Info. The environment variable
	// KEYWARD_DRIVER_LOG_LEVEL overrides it when the host passes it.
	Level hclog.Level
}

// Serve serves a driver as a keyward plugin and does not return. It owns the
// handshake, the versioned plugin sets, gRPC (the only protocol), AutoMTLS
// (enabled by the host through the handshake) and JSON logging to stderr.
func Serve(cfg ServeConfig) {
	log := newLogger(cfg.Name, cfg.Level)
	if cfg.New == nil {
		log.Error("driver.Serve: ServeConfig.New is nil; nothing to serve")
		os.Exit(1)
	}
	d := cfg.New(log)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(d),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           log,
	})
}

func newLogger(name string, level hclog.Level) hclog.Logger {
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if v := os.Getenv("KEYWARD_DRIVER_LOG_LEVEL"); v != "" {
		if l := hclog.LevelFromString(v); l != hclog.NoLevel {
			level = l
		}
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      level,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// VersionedPlugins returns the plugin sets by contract version for a driver
// process serving impl. The host passes a nil impl.
func VersionedPlugins(impl Driver) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ContractVersion: PluginSet(impl),
	}
}

// PluginSet returns the contract-v1 plugin set around impl (nil on the host).
func PluginSet(impl Driver) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl}}
}
