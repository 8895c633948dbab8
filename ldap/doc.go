// Package ldap is keyward's LDAP edge: the directory view IGA connectors read and
// write (Server), and the directory source that turns group memberships of an
// existing directory into grants (Source).
//
// # The view
//
// Server serves identities, entitlements and locks from the store as an
// OpenLDAP-like tree under one base DN: ou=people (inetOrgPerson plus the
// keywardPerson auxiliary class), ou=entitlements (one groupOfNames or
// groupOfUniqueNames per entitlement), ou=locks (device plus keywardLock). Every
// entry carries entryUUID, entryDN, createTimestamp and modifyTimestamp; memberOf is
// a virtual operational attribute. A member change bumps the group's and the
// person's modifyTimestamp, so modifyTimestamp delta syncs see it.
//
// Reads never touch the store on the request path: the tree lives in memory (dit),
// loaded at start and kept current from the audit log, which the engine appends to
// in the same transaction as every change. Writes (member add, delete, replace on
// an entitlement group) become one engine command with the bind identity as actor;
// everything else is refused with unwillingToPerform.
//
// # Protocol layer
//
// The LDAP protocol layer (conn, ber.go, proto.go) is keyward's own, on
// go-asn1-ber for decoding, rather than a wrapper around gldap v0.1.14 as first
// planned. gldap drops the connection on Abandon, Compare, ModifyDN and SASL binds,
// recovers no panics in request handlers, has no listener injection (so no
// connection limit), applies its read timeout as an absolute connection lifetime,
// and flushes every response PDU on its own; a wrapper can work around only the
// panics, and a measured gldap prototype served 0.4–0.6× slapd's throughput with
// per-PDU flushing and encoding as the main costs. Owning the layer gives result
// codes for every operation, an idle timeout that only runs while a connection waits
// for a request, a connection limit, per-request panic recovery, responses encoded
// from per-entry precomputed BER and flushed once per batch.
//
// Requests on one connection are handled one at a time, in order (so at most one
// is in flight per connection); connections are served concurrently.
//
// # Directory source
//
// Source polls configured groups of an existing directory (modifyTimestamp and
// uSNChanged tell unchanged groups apart, with a full comparison every few polls),
// resolves members to identities by a configured attribute, and grants or revokes
// with the source directory:<name>. A group that disappears is revoked only after a
// grace period, with a warning on every poll until then.
package ldap
