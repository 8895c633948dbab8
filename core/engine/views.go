package engine

import (
	"context"
	"slices"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// KeyDelivery is where one grant stands on one key (or, with no KeyID, that the
// identity holds no key in the lock system).
type KeyDelivery struct {
	LockSystemID   string               `json:"lockSystemId"`
	KeyID          string               `json:"keyId,omitempty"`
	State          domain.DeliveryState `json:"state"`
	Reason         string               `json:"reason,omitempty"`
	RequiredAction string               `json:"requiredAction,omitempty"`
	At             time.Time            `json:"at"`
}

// GrantView is a grant with what reviewers and IGAs need beside it: where it stands
// on the hardware, until when a revocation may still open doors, when it was last
// used.
type GrantView struct {
	Grant       *domain.Grant       `json:"grant"`
	Entitlement *domain.Entitlement `json:"entitlement,omitempty"`
	Live        bool                `json:"live"`
	Deliveries  []KeyDelivery       `json:"deliveries,omitempty"`
	// Exposed: revoked in keyward, possibly still on a key until EffectiveBy
	// (Unbounded: no bound known).
	Exposed     bool       `json:"exposed,omitempty"`
	EffectiveBy *time.Time `json:"effectiveBy,omitempty"`
	Unbounded   bool       `json:"unbounded,omitempty"`
	LastUsed    *time.Time `json:"lastUsed,omitempty"`
}

// GrantViews returns the views of an identity's grants (every state), in grant id
// order, read in tx at time now.
func GrantViews(ctx context.Context, tx store.Tx, identityID string, now time.Time) ([]GrantView, error) {
	grants, err := store.All[domain.Grant](ctx, tx, store.Eqf("identityId", identityID))
	if err != nil {
		return nil, err
	}
	if len(grants) == 0 {
		return nil, nil
	}
	in, err := store.Get[domain.Identity](ctx, tx, identityID)
	if err != nil {
		return nil, err
	}
	keys, err := store.All[domain.Key](ctx, tx, store.Eqf("holderId", identityID))
	if err != nil {
		return nil, err
	}
	states, err := store.All[domain.KeyState](ctx, tx, store.Eqf("holderId", identityID))
	if err != nil {
		return nil, err
	}
	byKey := map[string]*domain.KeyState{}
	for _, s := range states {
		byKey[s.ID] = s
	}
	ents := map[string]*domain.Entitlement{}
	out := make([]GrantView, 0, len(grants))
	for _, g := range grants {
		v := GrantView{Grant: g, Live: g.Live(now) && in.Active && (in.ContractEnd == nil || now.Before(*in.ContractEnd))}
		en, ok := ents[g.EntitlementID]
		if !ok {
			en, _ = store.Get[domain.Entitlement](ctx, tx, g.EntitlementID)
			ents[g.EntitlementID] = en
		}
		v.Entitlement = en
		for _, s := range states {
			for _, x := range s.Exposures {
				if slices.Contains(x.GrantIDs, g.ID) {
					v.Exposed = true
					if x.Unbounded {
						v.Unbounded = true
					} else if x.EffectiveBy != nil && (v.EffectiveBy == nil || x.EffectiveBy.After(*v.EffectiveBy)) {
						v.EffectiveBy = x.EffectiveBy
					}
				}
			}
		}
		if en != nil && v.Live {
			for _, b := range en.Bindings {
				if len(b.AccessObjects) == 0 {
					continue
				}
				found := false
				for _, k := range keys {
					if k.LockSystemID != b.LockSystemID || !k.Active() {
						continue
					}
					found = true
					d := KeyDelivery{LockSystemID: b.LockSystemID, KeyID: k.ID, State: domain.DeliveryPlanned}
					if s := byKey[k.ID]; s != nil && carries(s, g.ID) {
						d.State, d.Reason, d.RequiredAction, d.At = s.Delivery.State, s.Delivery.Reason, s.Delivery.RequiredAction, s.Delivery.At
						if s.LastUsed != nil && (v.LastUsed == nil || s.LastUsed.After(*v.LastUsed)) {
							v.LastUsed = s.LastUsed
						}
					}
					v.Deliveries = append(v.Deliveries, d)
				}
				if !found {
					v.Deliveries = append(v.Deliveries, KeyDelivery{LockSystemID: b.LockSystemID, State: domain.DeliveryAwaitingKey,
						RequiredAction: "hand out a key", Reason: "the identity holds no key in this lock system"})
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func carries(s *domain.KeyState, grantID string) bool {
	for _, ids := range s.Grants {
		if slices.Contains(ids, grantID) {
			return true
		}
	}
	return false
}
