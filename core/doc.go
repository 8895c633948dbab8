// Package core is keyward's governance engine: the domain, the store, and the engine
// that turns grants into lock operations and keeps an audit trail.
//
// The subpackages are:
//   - domain: the resource types and typed errors (identity, asset, lock system, lock,
//     key, entitlement, grant, policy, operation, audit event, lock event, task);
//   - store: the Store interface, its query model and conformance suite, with the
//     SQLite implementation under store/sqlite;
//   - policy: rules from identity attributes to entitlements;
//   - plan: desired access per key, recomputed from facts;
//   - audit: the hash chain and its verification;
//   - engine: the one transactional entry point for changes (commands), the scheduler
//     and the dispatcher that runs operations through the driver port;
//   - estate: the YAML estate file, its difference and its application;
//   - report: the why query.
//
// Nothing here knows SCIM, LDAP, gRPC or a SQL dialect.
package core
