// Package netiq is the OpenText (NetIQ) Identity Manager SCIM driver and Identity Governance collectors (iga.md §1.7). The driver matches complex multi-valued attributes on value; the profile applies the shared rules and allows Basic profile.
package netiq

import (
	"github.com/keyward/keyward/connectors"
)

// Profile normalises the platform's requests.
type Profile struct{}

var _ connectors.Profile = Profile{}

// Name implements connectors.Profile.
func (Profile) Name() string { return "netiq" }

// AllowBasic implements connectors.Profile.
func (Profile) AllowBasic() bool { return true }

// Normalize implements connectors.Profile.
func (Profile) Normalize(r *connectors.Request) error {
	connectors.Common(r)
	return nil
}
