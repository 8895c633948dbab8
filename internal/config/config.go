// Package config is keyward's configuration file schema: read with viper from a YAML
// file and KEYWARD_* environment variables, validated with every problem listed at
// once. Libraries never read it; cmd/keyward turns it into runtime options.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// Config is the whole file.
type Config struct {
	// Production refuses test-only switches such as the clock control.
	Production bool           `mapstructure:"production"`
	Store      Store          `mapstructure:"store"`
	HTTP       HTTP           `mapstructure:"http"`
	Log        Log            `mapstructure:"log"`
	Scheduler  Scheduler      `mapstructure:"scheduler"`
	Estate     string         `mapstructure:"estate"`
	SCIM       SCIM           `mapstructure:"scim"`
	LDAP       LDAP           `mapstructure:"ldap"`
	Drivers    []Driver       `mapstructure:"lock_systems"`
	Extra      map[string]any `mapstructure:",remain"`

	// dir is the folder of the config file: relative paths are taken from there.
	dir string
}

// Store chooses the store.
type Store struct {
	Driver string `mapstructure:"driver"` // sqlite
	Path   string `mapstructure:"path"`   // the SQLite file
}

// HTTP is the listener for health, metrics, SCIM and webhooks.
type HTTP struct {
	Addr string `mapstructure:"addr"`
}

// Log chooses the log format and level.
type Log struct {
	Format string `mapstructure:"format"` // text or json
	Level  string `mapstructure:"level"`  // debug, info, warn, error
}

// Scheduler tunes the scheduler.
type Scheduler struct {
	Interval string `mapstructure:"interval"`
}

// SCIM configures the SCIM service.
type SCIM struct {
	Enabled  bool           `mapstructure:"enabled"`
	BasePath string         `mapstructure:"base_path"`
	Options  map[string]any `mapstructure:",remain"`
}

// LDAP configures the LDAP view.
type LDAP struct {
	Enabled bool           `mapstructure:"enabled"`
	Addr    string         `mapstructure:"addr"`
	BaseDN  string         `mapstructure:"base_dn"`
	Options map[string]any `mapstructure:",remain"`
}

// Secret names where a secret value comes from: a file or an environment variable.
type Secret struct {
	File string `mapstructure:"file"`
	Env  string `mapstructure:"env"`
}

// Resolve reads the secret's value.
func (s Secret) Resolve(dir string) (string, error) {
	switch {
	case s.File != "" && s.Env != "":
		return "", errors.New("name a file or an environment variable, not both")
	case s.File != "":
		p := s.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	}
	return "", errors.New("name a file or an environment variable")
}

// Driver declares the driver plugin of one lock system.
type Driver struct {
	ID      string            `mapstructure:"id"`
	Binary  string            `mapstructure:"binary"`
	SHA256  string            `mapstructure:"sha256"`
	Config  map[string]any    `mapstructure:"config"`
	Secrets map[string]Secret `mapstructure:"secrets"`
	Timeout string            `mapstructure:"timeout"`
}

// Dir is the folder relative paths are resolved from.
func (c *Config) Dir() string { return c.dir }

// Path resolves a path from the config's folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Load reads the file (may be empty: defaults and environment only) and validates.
func Load(path string) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix("KEYWARD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	v.SetDefault("store.driver", "sqlite")
	v.SetDefault("store.path", "data/keyward.db")
	v.SetDefault("http.addr", "127.0.0.1:8080")
	v.SetDefault("log.format", "text")
	v.SetDefault("log.level", "info")
	v.SetDefault("scheduler.interval", "5s")
	v.SetDefault("production", false)
	for _, k := range []string{"store.driver", "store.path", "http.addr", "log.format", "log.level", "scheduler.interval", "production", "estate"} {
		_ = v.BindEnv(k)
	}
	c := &Config{}
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, &Problems{File: path, List: []string{err.Error()}}
		}
		abs, err := filepath.Abs(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		c.dir = abs
	} else {
		c.dir, _ = os.Getwd()
	}
	// ErrorUnused reports every unknown key of the nested sections at once; the
	// top level collects its unknown keys in Extra for Validate.
	err := v.Unmarshal(c, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true })
	if err != nil {
		return nil, &Problems{File: path, List: []string{err.Error()}}
	}
	if err := c.Validate(path); err != nil {
		return nil, err
	}
	return c, nil
}

// Problems lists every problem of a configuration.
type Problems struct {
	File string
	List []string
}

func (p *Problems) Error() string {
	name := p.File
	if name == "" {
		name = "configuration"
	}
	return fmt.Sprintf("%s: %d problem(s):\n  %s", name, len(p.List), strings.Join(p.List, "\n  "))
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
var hexPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate lists every problem at once.
func (c *Config) Validate(file string) error {
	var p []string
	for k := range c.Extra {
		p = append(p, fmt.Sprintf("%s: unknown setting", k))
	}
	if c.Store.Driver != "sqlite" {
		p = append(p, fmt.Sprintf("store.driver: %q is not supported (sqlite)", c.Store.Driver))
	}
	if c.Store.Path == "" {
		p = append(p, "store.path: required")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p = append(p, fmt.Sprintf("log.format: %q is not text or json", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("log.level: %q is not debug, info, warn or error", c.Log.Level))
	}
	if _, err := parseDuration(c.Scheduler.Interval); err != nil {
		p = append(p, "scheduler.interval: "+err.Error())
	}
	seen := map[string]bool{}
	for i, d := range c.Drivers {
		at := fmt.Sprintf("lock_systems[%d]", i)
		if !idPattern.MatchString(d.ID) {
			p = append(p, at+".id: required, lower-case letters, digits and dashes")
		}
		if seen[d.ID] {
			p = append(p, at+".id: "+d.ID+" declared twice")
		}
		seen[d.ID] = true
		if d.Binary == "" {
			p = append(p, at+".binary: required")
		}
		if !hexPattern.MatchString(d.SHA256) {
			p = append(p, at+".sha256: required, the binary's SHA-256 as 64 lower-case hex digits (keyward never trusts a driver on first use)")
		}
		if d.Timeout != "" {
			if _, err := parseDuration(d.Timeout); err != nil {
				p = append(p, at+".timeout: "+err.Error())
			}
		}
		for name, s := range d.Secrets {
			if (s.File == "") == (s.Env == "") {
				p = append(p, fmt.Sprintf("%s.secrets.%s: name exactly one of file or env", at, name))
			}
		}
	}
	if len(p) > 0 {
		return &Problems{File: file, List: p}
	}
	return nil
}
