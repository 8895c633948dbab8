// Package okta is the Okta Lifecycle Management and Okta Identity Governance (iga.md §1.4). Okta sends path-less replace operations whose value carries the read-only id, PUTs with password and groups, and filters only with eq; keyward's service accepts all of that for every client, so the profile adds only the shared rules. Okta may authenticate with Basic profile.
package okta

import (
	"github.com/keyward/keyward/connectors"
)

// Profile normalises the platform's requests.
type Profile struct{}

var _ connectors.Profile = Profile{}

// Name implements connectors.Profile.
func (Profile) Name() string { return "okta" }

// AllowBasic implements connectors.Profile.
func (Profile) AllowBasic() bool { return true }

// Normalize implements connectors.Profile.
func (Profile) Normalize(r *connectors.Request) error {
	connectors.Common(r)
	return nil
}
