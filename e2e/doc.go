// Package e2e is keyward's end-to-end suite: the keyward binary, the three
// driver plugins and locksim run as separate processes on the quick start's
// estate, an IGA is replayed through SCIM and LDAP, time moves in keyward and
// the simulators together, and the hardware side is checked in the simulators.
//
// It runs with `make e2e` (part of `make test`), which sets KEYWARD_E2E=1; a
// plain `go test ./...` skips it.
package e2e
