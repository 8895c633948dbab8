// Package scim is keyward's SCIM 2.0 service (RFC 7643, RFC 7644), built on
// github.com/elimity-com/scim: the library routes, validates bodies against the
// schemas, parses PATCH operations and renders resources; this package adds what
// it leaves to its user (scim.md §1.9) and maps everything onto keyward's core.
//
// What it serves, below a configurable base path (default /scim/v2), matched
// case-insensitively:
//   - /Users: identities, with the enterprise extension and keyward's
//     urn:keyward:params:scim:schemas:extension:physical:2.0:User (contract,
//     location, projects, grants with windows and evidence, deliveries, keys);
//   - /Groups: entitlements, whose members are the identities holding a grant,
//     with keyward's group extension;
//   - /Entitlements (resource type with Okta Identity Governance's Entitlement
//     schema), /Roles (policies) and /Locks: read-only catalogues;
//   - /ServiceProviderConfig, /ResourceTypes, /Schemas (405 on writes), GET / and
//     POST /.search, POST /{type}/.search, and the OAuth 2.0 client-credentials
//     endpoint oauth/token.
//
// Every write becomes one engine.Execute call, so a request is atomic; the
// calling client is recorded as the grant's source. Reads go to the store.
//
// Around the library, ServeHTTP authenticates (bearer tokens from Clients,
// signed access tokens, HTTP Basic where the client's profile allows it),
// limits the rate per client (429 with Retry-After), bounds bodies (413),
// checks media types (415), applies the client's connectors.Profile, restores
// statuses the library cannot express (503) and keeps internal errors out of
// responses. Filters are translated into the store's query model (filter.go),
// evaluated in memory where the model cannot express them (eval.go); PATCH is
// applied to a resource document with the compatibility rules of iga.md group A
// (patch.go); attributes/excludedAttributes are applied by project.go; ETags
// cover a resource and its grants (If-Match 412, If-None-Match 304).
//
// It must not import cmd/ or any driver; connectors import nothing from it but
// their tests.
package scim
