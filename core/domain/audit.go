package domain

import (
	"encoding/json"
	"time"
)

// AuditEvent is one append-only, hash-chained record of a change of desired or
// applied state, with its actor and reason.
type AuditEvent struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Subject is the resource the event is about.
	SubjectKind Kind   `json:"subjectKind"`
	SubjectID   string `json:"subjectId"`
	// IdentityID, EntitlementID and KeyID index the event for the why query.
	IdentityID    string          `json:"identityId,omitempty"`
	EntitlementID string          `json:"entitlementId,omitempty"`
	KeyID         string          `json:"keyId,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	PrevHash      string          `json:"prevHash"`
	Hash          string          `json:"hash"`
}
