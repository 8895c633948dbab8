// Package omada is the Omada Identity SCIM v2 connector and SCIM collector (iga.md §1.6). Omada sends Content-Type application/json by default, which the service accepts; the profile applies the shared rules and allows Basic profile.
package omada

import (
	"github.com/keyward/keyward/connectors"
)

// Profile normalises the platform's requests.
type Profile struct{}

var _ connectors.Profile = Profile{}

// Name implements connectors.Profile.
func (Profile) Name() string { return "omada" }

// AllowBasic implements connectors.Profile.
func (Profile) AllowBasic() bool { return true }

// Normalize implements connectors.Profile.
func (Profile) Normalize(r *connectors.Request) error {
	connectors.Common(r)
	return nil
}
