// Package cliq is the keyward lock driver for ASSA ABLOY CLIQ installations
// managed by CLIQ Web Manager (CWM). Package protec2 reuses it with ABLOY's
// defaults for PROTEC2 CLIQ.
//
// What the driver reports follows CLIQ's physical model:
//   - dynamic keys (access list on the key) get a changed access as a remote
//     update that waits for the key at a programming device or CLIQ Connect:
//     queued, then applied once CWM reports the key updated;
//   - normal keys (access only in cylinders) need a programming key carried
//     to each affected cylinder: needs-action "visit-lock" with the cylinder
//     list, applied once every job ran;
//   - a removal is effective at the latest when the key's validity ends or
//     its revalidation period runs out (effective-by), unbounded otherwise;
//   - blocking blacklists the key in the cylinders it opens, within their
//     3,000-entry capacity;
//   - lock events come from CWM's audit trail, which learns of them only
//     when a key or cylinder reports in: late, and often twice; the change
//     stream de-duplicates them.
//
// Access objects are named by kind and CWM identity: "profile:<id>" (access
// profile), "group:<id>" (cylinder group) and "cylinder:<id>" (a single
// cylinder; accepted in SetKeyAccess, not listed as an access object).
//
// See README.md for what is verified against public material and what is
// assumed.
package cliq
