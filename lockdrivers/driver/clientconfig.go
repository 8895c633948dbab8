package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// LaunchConfig says how the host starts one driver binary.
type LaunchConfig struct {
	// Binary is the path of the driver executable.
	Binary string
	// SHA256 is the pinned hex SHA-256 of Binary. go-plugin hashes the file
	// before starting it and refuses a mismatch (SecureConfig).
	SHA256 string
	// Args are extra command-line arguments.
	Args []string
	// Env is the driver's whole environment: the driver never inherits the
	// host's (SkipHostEnv), so vendor drivers do not see host secrets.
	Env []string
	// Logger receives the go-plugin client's log and the driver's stderr
	// log lines (re-levelled); nil logs at Info to stderr.
	Logger hclog.Logger
	// StartTimeout bounds the handshake; default 10s.
	StartTimeout time.Duration
}

// NewClientConfig returns the go-plugin client configuration for a driver
// binary: the handshake and versioned plugin sets of this SDK, gRPC only,
// AutoMTLS, the SHA-256 pin as SecureConfig, no host environment, and on
// Linux a parent-death signal (SIGKILL) so the driver dies with the host.
//
// The parent-death signal fires when the OS thread that started the driver
// exits. Go keeps its threads alive unless a goroutine locked to one ends
// without unlocking, so start drivers from ordinary goroutines.
func NewClientConfig(c LaunchConfig) (*plugin.ClientConfig, error) {
	sum, err := hex.DecodeString(strings.TrimSpace(c.SHA256))
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("driver %s: sha256 pin %q is not 64 hex digits", c.Binary, c.SHA256)
	}
	cmd := exec.Command(c.Binary, c.Args...)
	cmd.Env = append([]string(nil), c.Env...)
	setParentDeathSignal(cmd)
	log := c.Logger
	if log == nil {
		log = hclog.New(&hclog.LoggerOptions{Name: "lockdriver", Level: hclog.Info})
	}
	timeout := c.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     timeout,
		Logger:           log,
	}, nil
}

// FileSHA256 returns the hex SHA-256 of a file, for computing pins.
func FileSHA256(path string) (string, error) {
	return fileSHA256(path)
}

// Dispense starts the plugin process of pc (if not yet running), checks the
// negotiated contract version and returns the driver client.
func Dispense(pc *plugin.Client) (*Client, error) {
	rpc, err := pc.Client()
	if err != nil {
		return nil, err
	}
	if v := pc.NegotiatedVersion(); v != ContractVersion {
		return nil, fmt.Errorf("driver speaks contract version %d, want %d", v, ContractVersion)
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return nil, err
	}
	c, ok := raw.(*Client)
	if !ok {
		return nil, fmt.Errorf("driver plugin %q dispensed %T, want *driver.Client", PluginName, raw)
	}
	return c, nil
}
