// Package sailpoint is the SailPoint Identity Security Cloud / IdentityIQ SCIM 2.0 connector (iga.md §1.2, §1.3). SailPoint needs every discovery endpoint, exact paging and mixed-case attribute names in filters (DisplayName sw …), which the service provides for every client. It may authenticate with Basic or a bearer API token profile.
package sailpoint

import (
	"github.com/keyward/keyward/connectors"
)

// Profile normalises the platform's requests.
type Profile struct{}

var _ connectors.Profile = Profile{}

// Name implements connectors.Profile.
func (Profile) Name() string { return "sailpoint" }

// AllowBasic implements connectors.Profile.
func (Profile) AllowBasic() bool { return true }

// Normalize implements connectors.Profile.
func (Profile) Normalize(r *connectors.Request) error {
	connectors.Common(r)
	return nil
}
