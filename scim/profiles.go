package scim

import (
	"github.com/keyward/keyward/connectors"
	"github.com/keyward/keyward/connectors/entra"
	"github.com/keyward/keyward/connectors/netiq"
	"github.com/keyward/keyward/connectors/okta"
	"github.com/keyward/keyward/connectors/omada"
	"github.com/keyward/keyward/connectors/oneidentity"
	"github.com/keyward/keyward/connectors/sailpoint"
)

// DefaultProfiles maps every profile name `keyward client add --profile` takes
// to its connector.
func DefaultProfiles() map[string]connectors.Profile {
	return map[string]connectors.Profile{
		"entra":       entra.Profile{},
		"okta":        okta.Profile{},
		"sailpoint":   sailpoint.Profile{},
		"oneidentity": oneidentity.Profile{},
		"omada":       omada.Profile{},
		"netiq":       netiq.Profile{},
		"generic":     connectors.Generic{},
	}
}
