// Package entra is the Microsoft Entra ID provisioning profile (iga.md §1.1).
//
// Entra, without the aadOptscim062020 flag, sends op values "Add"/"Replace",
// booleans as strings ("False"), member removal as path "members" plus a value
// list, a bare-string manager and JSON-encoded strings inside roles[].value.
// keyward's SCIM service handles the first three for every client; this profile
// adds the rest: manager as a bare string, and roles (app-role assignments),
// which keyward ignores because its roles are policies it evaluates itself. The
// flag itself needs nothing: both behaviours are accepted.
package entra

import (
	"strings"

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
	delete(r.Body, "roles")
	if ops, ok := r.Body["Operations"].([]any); ok {
		for _, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				continue
			}
			if p, _ := op["path"].(string); strings.HasPrefix(strings.ToLower(p), "roles") {
				// App-role assignments (roles) have no meaning for keyward,
				// whose roles are policies it evaluates itself: the operation
				// becomes a no-op instead of a mutability error that would
				// quarantine the Entra job.
				delete(op, "path")
				op["op"], op["value"] = "add", map[string]any{}
			}
			if p, _ := op["path"].(string); strings.EqualFold(p, "manager") || strings.EqualFold(p, enterprise+":manager") {
				// manager lives in the enterprise extension; Entra names it bare.
				op["path"] = enterprise + ":manager"
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
