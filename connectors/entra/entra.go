// Package entra is the Microsoft Entra ID provisioning profile (iga.md §1.1).
//
// Entra, without the aadOptscim062020 flag, sends op values "Add"/"Replace",
// booleans as strings ("False"), member removal as path "members" plus a value
// list, a bare-string manager and JSON-encoded strings inside roles[].value.
// keyward's SCIM service handles the first three for every client; this profile
// adds the rest. The flag itself needs nothing: both behaviours are accepted.
package entra

import (
	"github.com/keyward/keyward/connectors"
)

// Profile normalises Entra's requests.
type Profile struct{}

var _ connectors.Profile = Profile{}

// Name implements connectors.Profile.
func (Profile) Name() string { return "entra" }

// AllowBasic implements connectors.Profile: Entra uses a long-lived bearer
// token only ("Secret Token").
func (Profile) AllowBasic() bool { return false }

// Normalize implements connectors.Profile.
func (Profile) Normalize(r *connectors.Request) error {
	connectors.Common(r)
	r.Query.Del("aadOptscim062020")
	if r.Body == nil {
		return nil
	}
	fixManager(r.Body)
	connectors.DecodeJSONStrings(r.Body["roles"])
	if ops, ok := r.Body["Operations"].([]any); ok {
		for _, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				continue
			}
			if p, _ := op["path"].(string); p == "roles" {
				connectors.DecodeJSONStrings(op["value"])
			}
			if p, _ := op["path"].(string); p == "manager" || p == enterprise+":manager" {
				if s, ok := op["value"].(string); ok {
					op["value"] = map[string]any{"value": s}
				}
				if l, ok := op["value"].([]any); ok && len(l) == 1 {
					op["value"] = l[0]
				}
			}
			if v, ok := op["value"].(map[string]any); ok {
				fixManager(v)
			}
		}
	}
	return nil
}

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// fixManager turns "manager":"<id>" into {"value":"<id>"} and drops a null one.
func fixManager(body map[string]any) {
	ext, ok := body[enterprise].(map[string]any)
	if !ok {
		return
	}
	switch m := ext["manager"].(type) {
	case string:
		if m == "" {
			delete(ext, "manager")
		} else {
			ext["manager"] = map[string]any{"value": m}
		}
	case nil:
		delete(ext, "manager")
	}
}

// PatchNoContent implements connectors.NoContentPatcher: Microsoft's reference
// server, and its test collection, answer every PATCH with 204.
func (Profile) PatchNoContent() bool { return true }
