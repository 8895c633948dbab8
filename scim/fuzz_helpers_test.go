package scim

import (
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

type domainIdentity = domain.Identity

func validateExpr(e store.Expr) error { return store.Validate(e) }
