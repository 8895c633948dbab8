// Package oneidentity is the One Identity Manager (Universal Cloud Interface SCIM template) (iga.md §1.5). Its exact request sequence is not public; the profile applies the shared rules and allows Basic profile.
package oneidentity

import (
	"github.com/keyward/keyward/connectors"
)

// Profile normalises the platform's requests.
type Profile struct{}

var _ connectors.Profile = Profile{}

// Name implements connectors.Profile.
func (Profile) Name() string { return "oneidentity" }

// AllowBasic implements connectors.Profile.
func (Profile) AllowBasic() bool { return true }

// Normalize implements connectors.Profile.
func (Profile) Normalize(r *connectors.Request) error {
	connectors.Common(r)
	return nil
}
