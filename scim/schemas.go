package scim

import (
	"encoding/json"
	"fmt"

	"github.com/elimity-com/scim/schema"
)

// Schema URNs keyward serves.
const (
	URNUser           = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// URNKeywardUser is keyward's User extension: contract, location, projects,
	// grants with windows and evidence, and the keys held.
	URNKeywardUser = "urn:keyward:params:scim:schemas:extension:physical:2.0:User"
	// URNKeywardGroup is keyward's Group extension: what the entitlement opens.
	URNKeywardGroup = "urn:keyward:params:scim:schemas:extension:physical:2.0:Group"
	// URNEntitlement is the Okta Identity Governance entitlement schema that the
	// /Entitlements resource type declares (iga.md §1.4, BUG-44).
	URNEntitlement = "urn:okta:scim:schemas:core:1.0:Entitlement"
	// URNRole is the Okta Identity Governance role schema of /Roles.
	URNRole = "urn:okta:scim:schemas:core:1.0:Role"
	// URNLock is keyward's schema of the read-only /Locks catalogue.
	URNLock = "urn:keyward:params:scim:schemas:core:2.0:Lock"

	urnListResponse  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	urnError         = "urn:ietf:params:scim:api:messages:2.0:Error"
	urnPatchOp       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	urnSearchRequest = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// attr is one attribute definition in RFC 7643 §7 form.
type attr struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	MultiValued     bool     `json:"multiValued"`
	Description     string   `json:"description,omitempty"`
	Required        bool     `json:"required"`
	CaseExact       bool     `json:"caseExact"`
	Mutability      string   `json:"mutability"`
	Returned        string   `json:"returned"`
	Uniqueness      string   `json:"uniqueness"`
	CanonicalValues []string `json:"canonicalValues,omitempty"`
	ReferenceTypes  []string `json:"referenceTypes,omitempty"`
	SubAttributes   []attr   `json:"subAttributes,omitempty"`
}

func str(name, desc string) attr {
	return attr{Name: name, Type: "string", Description: desc, Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
}

func ro(a attr) attr    { a.Mutability = "readOnly"; return a }
func exact(a attr) attr { a.CaseExact = true; return a }
func multi(a attr) attr { a.MultiValued = true; return a }
func typed(a attr, t string) attr {
	a.Type = t
	return a
}

func complexAttr(name, desc string, sub ...attr) attr {
	a := str(name, desc)
	a.Type = "complex"
	a.SubAttributes = sub
	return a
}

func buildSchema(id, name, desc string, attrs []attr) schema.Schema {
	raw, err := json.Marshal(map[string]any{"id": id, "name": name, "description": desc, "attributes": attrs})
	if err != nil {
		panic(fmt.Sprintf("scim: schema %s: %v", id, err))
	}
	var s schema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(fmt.Sprintf("scim: schema %s: %v", id, err))
	}
	return s
}

// keywardUserSchema is the User extension. RFC 7643 §2.3.8 forbids complex
// sub-attributes inside complex attributes, so a grant's approval is flattened into
// approvalReference/approver/approvedAt, and the per-lock-system delivery of every
// grant is the separate read-only attribute deliveries.
func keywardUserSchema() schema.Schema {
	grant := multi(complexAttr("grants", "Physical entitlements granted to the identity, one element per grant.",
		ro(exact(str("id", "The grant's id."))),
		exact(str("value", "The entitlement's id.")),
		str("display", "The entitlement's name."),
		typed(str("validFrom", "Start of the grant's validity window."), "dateTime"),
		typed(str("validUntil", "End of the grant's validity window."), "dateTime"),
		str("approvalReference", "The approval's reference in the IGA (request or ticket id)."),
		str("approver", "Who approved the grant."),
		typed(str("approvedAt", "When the grant was approved."), "dateTime"),
		str("justification", "Why the grant was made."),
		ro(str("source", "Who made the grant: iga:<client>, policy:<policy>, directory:<dir>, manual:<person>.")),
		ro(str("state", "Governance state: requested, active, expired, revoked, rejected.")),
		ro(str("delivery", "Worst delivery state over the lock systems: applied, or a pending state.")),
		ro(typed(str("effectiveBy", "For a revoked grant: the latest moment a key can still open what it gave."), "dateTime")),
		ro(typed(str("lastUsed", "Last time a key carrying the grant opened a lock."), "dateTime")),
	))
	deliveries := ro(multi(complexAttr("deliveries", "Delivery of the grants per key and lock system.",
		ro(exact(str("grant", "The grant's id."))),
		ro(exact(str("lockSystem", "The lock system's id."))),
		ro(exact(str("key", "The key's id."))),
		ro(str("state", "recorded, queued, delivered, applied, needs-action, failed, awaiting-key.")),
		ro(str("reason", "Why it is not applied yet, or what a person must do.")),
		ro(typed(str("effectiveBy", "For removed access: the latest moment the key can still use it."), "dateTime")),
	)))
	keys := ro(multi(complexAttr("keys", "Keys the identity holds.",
		ro(exact(str("value", "The key's id."))),
		ro(exact(str("lockSystem", "The lock system's id."))),
		ro(str("type", "physical, fob, phone, tag.")),
		ro(str("custody", "planning, handed-out, returned, lost, blocked.")),
		ro(str("display", "The key's label.")),
	)))
	return buildSchema(URNKeywardUser, "KeywardUser", "keyward physical access extension", []attr{
		str("contractStatus", "Contract status (employee, contractor, supplier, ended)."),
		typed(str("contractEnd", "Contract end; caps every grant's window."), "dateTime"),
		str("location", "Work location."),
		multi(str("projects", "Projects the identity works on.")),
		str("function", "Job function policies match on."),
		str("risk", "Risk rating."),
		grant, deliveries, keys,
	})
}

func keywardGroupSchema() schema.Schema {
	return buildSchema(URNKeywardGroup, "KeywardGroup", "keyward entitlement extension", []attr{
		str("description", "What the entitlement is for."),
		str("owner", "Who owns and reviews the entitlement."),
		attr{Name: "criticality", Type: "string", Mutability: "readWrite", Returned: "default", Uniqueness: "none",
			CanonicalValues: []string{"low", "medium", "high", "critical"}, Description: "low, medium, high or critical."},
		ro(multi(exact(str("assets", "Ids of the assets it opens.")))),
		ro(multi(str("sites", "Names of the assets it opens."))),
		ro(str("schedule", "Weekly schedule, empty for 24/7.")),
		str("maxDuration", "Longest validity window of a grant (e.g. 90d)."),
		ro(typed(str("bound", "Whether the entitlement is bound to access objects in a lock system."), "boolean")),
	})
}

func catalogueSchema(id, name, desc string, extra ...attr) schema.Schema {
	attrs := []attr{
		exact(str("value", "Same as id.")),
		str("displayName", "Human-readable name."),
		str("type", "The resource type name."),
		str("description", "What it is for."),
	}
	for i := range attrs {
		attrs[i] = ro(attrs[i])
	}
	return buildSchema(id, name, desc, append(attrs, extra...))
}

func entitlementSchema() schema.Schema {
	return catalogueSchema(URNEntitlement, "Entitlement", "Physical entitlements (keyward entitlements).",
		ro(str("owner", "Who owns it.")), ro(str("criticality", "low, medium, high, critical.")))
}

func roleSchema() schema.Schema {
	return catalogueSchema(URNRole, "Role", "Roles: keyward policies that grant entitlements by identity attributes.",
		ro(multi(exact(str("entitlements", "Ids of the entitlements the role grants.")))))
}

func lockSchema() schema.Schema {
	return catalogueSchema(URNLock, "Lock", "Locks (cylinders, doors, padlocks) in the lock systems.",
		ro(exact(str("lockSystem", "The lock system's id."))), ro(exact(str("asset", "The asset's id."))))
}

func multiValue(name, desc string, typeValues ...string) attr {
	t := str("type", "A label for the value's function.")
	t.CanonicalValues = typeValues
	return multi(complexAttr(name, desc,
		str("value", "The value."),
		str("display", "A human-readable name."),
		t,
		typed(str("primary", "The preferred value."), "boolean"),
	))
}

// userSchema is the core User schema as keyward keeps it (RFC 7643 §4.1): the
// attributes it stores, with groups read-only and entitlements writable (a grant
// made through entitlements is the same grant as one made through grants or Group
// membership). Attributes keyward does not keep (addresses, photos, ims,
// x509Certificates) are not advertised and are ignored on input.
//
// TODO: postal addresses are dropped; an IGA that maps them sees them vanish on
// read-back (the Microsoft test collection checks one).
func userSchema() schema.Schema {
	userName := str("userName", "Unique identifier for the user, used to sign in.")
	userName.Required, userName.Uniqueness = true, "server"
	name := complexAttr("name", "The components of the user's name.",
		str("formatted", "The full name."), str("familyName", "The family name."),
		str("givenName", "The given name."), str("middleName", "The middle name."),
		str("honorificPrefix", "Honorific prefix."), str("honorificSuffix", "Honorific suffix."))
	password := str("password", "Accepted and discarded: keyward does not keep passwords.")
	password.Mutability, password.Returned = "writeOnly", "never"
	groups := ro(multi(complexAttr("groups", "Entitlements the user holds, as groups (read-only; grant through Group membership).",
		ro(exact(str("value", "The group's id."))),
		ro(typed(str("$ref", "The group's URI."), "reference")),
		ro(str("display", "The group's name.")),
		ro(str("type", "direct.")))))
	ents := multi(complexAttr("entitlements", "Entitlements the user holds (draft-ietf-scim-roles-entitlements); writable.",
		exact(str("value", "The entitlement's id.")),
		str("display", "The entitlement's name."),
		str("type", "Entitlement."),
		typed(str("primary", "Unused."), "boolean")))
	roles := ro(multi(complexAttr("roles", "Roles (policies) whose rules the user matches (read-only).",
		ro(exact(str("value", "The role's id."))), ro(str("display", "The role's name.")),
		ro(str("type", "Role.")), ro(typed(str("primary", "Unused."), "boolean")))))
	return buildSchema(URNUser, "User", "User Account", []attr{
		userName, name,
		str("displayName", "The name displayed to end users."),
		str("nickName", "Casual name."),
		str("title", "Title."),
		str("userType", "Relationship to the organisation."),
		str("preferredLanguage", "Preferred language."),
		str("locale", "Locale."),
		str("timezone", "Time zone."),
		typed(str("active", "Administrative status; false revokes all physical access at once, true restores it."), "boolean"),
		password,
		multiValue("emails", "Email addresses.", "work", "home", "other"),
		multiValue("phoneNumbers", "Phone numbers.", "work", "home", "mobile", "fax", "pager", "other"),
		groups, ents, roles,
	})
}

func enterpriseSchema() schema.Schema {
	manager := complexAttr("manager", "The user's manager.",
		exact(str("value", "The manager's id.")),
		typed(str("$ref", "The manager's URI."), "reference"),
		ro(str("displayName", "The manager's name.")))
	return buildSchema(URNEnterpriseUser, "EnterpriseUser", "Enterprise User", []attr{
		str("employeeNumber", "Employee number; keyward's default correlation key to lock systems."),
		str("costCenter", "Cost center."), str("organization", "Organization."),
		str("division", "Division."), str("department", "Department."), manager,
	})
}

// groupSchema is the core Group schema (RFC 7643 §4.2): a group is a keyward
// entitlement and its members are the identities holding a grant of it.
func groupSchema() schema.Schema {
	dn := str("displayName", "The entitlement's name; unique, compared case-insensitively.")
	dn.Required, dn.Uniqueness = true, "server"
	members := multi(complexAttr("members", "Identities holding a grant of the entitlement.",
		exact(str("value", "The user's id.")),
		typed(str("$ref", "The user's URI."), "reference"),
		str("display", "The user's display name."),
		str("type", "User.")))
	return buildSchema(URNGroup, "Group", "Group", []attr{dn, members})
}
