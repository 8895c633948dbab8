package scim_test

import (
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
)

func engineActor() engine.Actor {
	return engine.Actor{Name: "test", Source: domain.Source{Kind: domain.SourceManual, Name: "test"}}
}

func upsert(userName string) engine.Step {
	return engine.UpsertIdentity{Identity: &domain.Identity{UserName: userName, Active: true}}
}

// upsertID creates an identity with the id "id-<userName>".
func upsertID(userName string) engine.Step {
	return engine.UpsertIdentity{Identity: &domain.Identity{Meta: domain.Meta{ID: "id-" + userName}, UserName: userName, Active: true}}
}
