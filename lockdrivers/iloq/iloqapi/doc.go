// Package iloqapi holds the wire shapes of the iLOQ Public API v2 (5 Series):
// the JSON models with their real PascalCase names (`_ID` suffixes, `eMail`,
// `RealEstate_Id` on locks), the enumerations the driver maps, the date-time
// formats (locking-system local time for `…Lg` fields, UTC for `…Utc` fields)
// and the webhook signature.
//
// Both the REST client in lockdrivers/iloq and the simulator in
// lockdrivers/iloq/sim use these types. The simulator's tests pin the raw JSON
// names against the vendor's documented examples so that a wrong name here
// cannot hide behind the shared code.
//
// The package imports nothing from keyward.
package iloqapi
