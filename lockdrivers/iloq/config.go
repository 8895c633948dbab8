package iloq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// Settings is the driver's configuration block (driver.Config.Settings).
//
//	managerUrl: https://s5.iloq.com/iloqws   # iLOQ manager URL (Url/GetUrl may move it)
//	customerCode: ILOQ_12345                 # the service code of the iLOQ Manager login
//	userName: api.user                       # the API user
//	lockGroup: 6f1c…                         # locking system id or name; default: the first
//	defaultZone: 0b7e…                       # zone for new persons and keys' main zone; default: the zone of type 4
//	readConcurrency: 8                       # parallel reads during inventory sync (1-32)
//	requestAttempts: 4                       # tries per call on 5xx, timeouts and dropped connections (1-10)
//	webhookMaxAgeMinutes: 15                 # refuse webhooks whose CreationTimeUtc is older (0: no check)
//
// Secrets (driver.Config.Secrets): "password" (required), "gatewayKey" (the
// API gateway's x-api-key, optional), "webhookSignKey" (the SignKey of the
// webhook subscription keyward receives, needed for HandleWebhook).
type Settings struct {
	ManagerURL      string `json:"managerUrl"`
	CustomerCode    string `json:"customerCode"`
	UserName        string `json:"userName"`
	LockGroup       string `json:"lockGroup,omitempty"`
	DefaultZone     string `json:"defaultZone,omitempty"`
	ReadConcurrency int    `json:"readConcurrency,omitempty"`
	RequestAttempts int    `json:"requestAttempts,omitempty"`
	// WebhookMaxAgeMinutes refuses webhooks whose CreationTimeUtc (set by
	// iLOQ just before each attempt) is further than this from the vendor's
	// clock: replay protection. 0 turns the check off.
	WebhookMaxAgeMinutes int `json:"webhookMaxAgeMinutes,omitempty"`
}

// The secret names.
const (
	SecretPassword       = "password"
	SecretGatewayKey     = "gatewayKey"
	SecretWebhookSignKey = "webhookSignKey"
)

// configSchema is the JSON Schema of Settings.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "iLOQ 5 Series driver settings",
  "type": "object",
  "additionalProperties": false,
  "required": ["managerUrl", "customerCode", "userName"],
  "properties": {
    "managerUrl": {"type": "string", "format": "uri", "description": "iLOQ manager URL, e.g. https://s5.iloq.com/iloqws; Url/GetUrl may move the session to another server"},
    "customerCode": {"type": "string", "minLength": 1, "description": "service code shown in the iLOQ Manager login window"},
    "userName": {"type": "string", "minLength": 1, "description": "iLOQ user with Public API rights"},
    "lockGroup": {"type": "string", "description": "locking system id or name; default: the first one the user sees"},
    "defaultZone": {"type": "string", "description": "zone id for new persons and keys' main zone; default: the zone of type 4"},
    "readConcurrency": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8, "description": "parallel reads during inventory sync"},
    "webhookMaxAgeMinutes": {"type": "integer", "minimum": 0, "default": 0, "description": "refuse webhooks whose CreationTimeUtc is more than this many minutes from the vendor's clock (replay protection); 0 turns the check off"},
    "requestAttempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 4, "description": "tries per vendor call on 5xx answers, timeouts and dropped connections (backoff from 200 ms, doubling)"}
  }
}`

// secretSpecs describes the secrets for Info.
var secretSpecs = []driver.SecretSpec{
	{Name: SecretPassword, Description: "password of the iLOQ API user", Required: true},
	{Name: SecretGatewayKey, Description: "API gateway subscription key sent as x-api-key (when the customer uses the iLOQ API gateway)"},
	{Name: SecretWebhookSignKey, Description: "SignKey of the iLOQ webhook subscription pointing at keyward; without it webhooks are refused"},
}

// parseSettings decodes and validates a configuration, listing every problem.
func parseSettings(cfg driver.Config) (Settings, error) {
	const op = "iloq: configure"
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, driver.Invalid(op, driver.Problem{Field: "", Message: settingsError(err)})
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return s, driver.Invalid(op, driver.Problem{Message: "settings must be one JSON object"})
	}
	var problems []driver.Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, driver.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if s.ManagerURL == "" {
		add("managerUrl", "required (e.g. https://s5.iloq.com/iloqws)")
	} else if u, err := url.Parse(s.ManagerURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("managerUrl", "%q is not an http(s) URL", s.ManagerURL)
	}
	if strings.TrimSpace(s.CustomerCode) == "" {
		add("customerCode", "required (the service code of the iLOQ Manager login window)")
	}
	if strings.TrimSpace(s.UserName) == "" {
		add("userName", "required")
	}
	if s.ReadConcurrency == 0 {
		s.ReadConcurrency = 8
	}
	if s.ReadConcurrency < 1 || s.ReadConcurrency > 32 {
		add("readConcurrency", "must be between 1 and 32, got %d", s.ReadConcurrency)
	}
	if s.RequestAttempts == 0 {
		s.RequestAttempts = 4
	}
	if s.RequestAttempts < 1 || s.RequestAttempts > 10 {
		add("requestAttempts", "must be between 1 and 10, got %d", s.RequestAttempts)
	}
	if s.WebhookMaxAgeMinutes < 0 {
		add("webhookMaxAgeMinutes", "must not be negative")
	}
	if cfg.Secrets[SecretPassword] == "" {
		add("secrets."+SecretPassword, "required")
	}
	if len(problems) > 0 {
		return s, driver.Invalid(op, problems...)
	}
	return s, nil
}

func settingsError(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return "settings must be a JSON object, got " + te.Value
	case errors.As(err, &te):
		return fmt.Sprintf("%s: want %s, got %s", te.Field, te.Type, te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "settings are empty or cut short"
	}
	return "settings are not valid JSON: " + err.Error()
}
