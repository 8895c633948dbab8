package engine

import (
	"time"

	"github.com/keyward/keyward/core/domain"
)

// Step is one change in a command. Steps of one Execute call commit together or not
// at all. The step types below are the whole set.
type Step interface{ step() }

// UpsertIdentity creates an identity (empty ID: one is assigned) or replaces it
// whole. Expect is the version the caller last saw (0: must be new; AnyVersion: no
// check). Replacing re-evaluates policies: a mover loses what no rule or grant
// still justifies and gains birthright access.
type UpsertIdentity struct {
	Identity *domain.Identity
	Expect   int64
}

// DeactivateIdentity sets active=false: every physical right is revoked at once,
// the grants are kept so that ReactivateIdentity restores them.
type DeactivateIdentity struct{ ID string }

// ReactivateIdentity sets active=true again.
type ReactivateIdentity struct{ ID string }

// DeleteIdentity removes an identity and revokes and removes its grants.
type DeleteIdentity struct {
	ID     string
	Expect int64
}

// DefineEntitlement creates (empty ID: assigned) or replaces an entitlement.
// Names are unique, compared case-insensitively.
type DefineEntitlement struct {
	Entitlement *domain.Entitlement
	Expect      int64
}

// BindEntitlement binds an entitlement to access objects in one lock system,
// replacing that lock system's previous binding.
type BindEntitlement struct {
	EntitlementID string
	Binding       domain.Binding
}

// UnbindEntitlement removes an entitlement's binding to one lock system.
type UnbindEntitlement struct {
	EntitlementID string
	LockSystemID  string
}

// DeleteEntitlement revokes every grant the entitlement carries and removes it.
type DeleteEntitlement struct {
	ID     string
	Expect int64
}

// Grant gives an identity an entitlement. Without ValidUntil the entitlement's
// maximum duration, if any, bounds the window; the identity's contract end always
// caps it. An existing live or requested grant of the same identity, entitlement
// and source is updated instead of duplicated. RequireApproval makes the grant wait
// as requested.
type Grant struct {
	IdentityID      string
	EntitlementID   string
	ValidFrom       *time.Time
	ValidUntil      *time.Time
	Approval        *domain.Approval
	Justification   string
	RequireApproval bool
	// Source overrides the actor's source (a policy grant made by a command).
	Source *domain.Source
}

// Revoke ends a grant: by GrantID, or every current grant of IdentityID on
// EntitlementID (optionally only those from Source).
type Revoke struct {
	GrantID       string
	IdentityID    string
	EntitlementID string
	Source        *domain.Source
	Reason        string
}

// ApproveGrant approves a requested grant.
type ApproveGrant struct {
	GrantID   string
	By        string
	Reference string
}

// RejectGrant rejects a requested grant.
type RejectGrant struct {
	GrantID string
	By      string
	Reason  string
}

// AssignKey records that an identity holds a key (handed out).
type AssignKey struct {
	KeyID      string
	IdentityID string
}

// ReturnKey records that a key came back: its access is removed.
type ReturnKey struct{ KeyID string }

// ReportKeyLost records a lost key: it is blocked at once where the lock system
// can, and a task is raised where it cannot.
type ReportKeyLost struct{ KeyID string }

// PutResource writes an estate or inventory resource (lock system, asset, lock, key,
// policy, setting) as is, audited. Identities, entitlements and grants have their
// own steps.
type PutResource struct {
	Resource domain.Resource
	Expect   int64
}

// DeleteResource removes an estate or inventory resource.
type DeleteResource struct {
	Kind   domain.Kind
	ID     string
	Expect int64
}

func (UpsertIdentity) step()     {}
func (DeactivateIdentity) step() {}
func (ReactivateIdentity) step() {}
func (DeleteIdentity) step()     {}
func (DefineEntitlement) step()  {}
func (BindEntitlement) step()    {}
func (UnbindEntitlement) step()  {}
func (DeleteEntitlement) step()  {}
func (Grant) step()              {}
func (Revoke) step()             {}
func (ApproveGrant) step()       {}
func (RejectGrant) step()        {}
func (AssignKey) step()          {}
func (ReturnKey) step()          {}
func (ReportKeyLost) step()      {}
func (PutResource) step()        {}
func (DeleteResource) step()     {}

// Actor is who asks for a change: a SCIM client, an LDAP bind identity, a
// directory, a person at the CLI, the scheduler.
type Actor struct {
	Name   string
	Source domain.Source
}

// Result tells what a command created or changed.
type Result struct {
	// IDs holds, per step, the id of the resource the step created or changed
	// (for Grant, the grant id; for Revoke, the first revoked grant id).
	IDs []string
	// Operations counts the outbox operations the command produced.
	Operations int
}
