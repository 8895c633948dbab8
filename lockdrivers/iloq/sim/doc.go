// Package sim is a simulator of the iLOQ Public API v2 (5 Series / S50), the
// HTTP API a keyward iLOQ driver talks to. It serves the same paths and verbs
// under /api/v2, PascalCase JSON with `_ID` names, client-generated GUIDs,
// bare-integer `Can…` answers and `{"Message": …}` errors, and it enforces the
// vendor's rules: the session flow (Url/GetUrl, CreateSession, LockGroups,
// SetLockgroup, the SessionId header, the optional x-api-key gateway header,
// KillSession), API-type gating of access rights, key time-limit slots with
// their capacity and 15-minute granularity, time profiles, licence limits,
// planned (mode=1) versus programmed (mode=2) state, ProgrammingState, Order
// and Return, a blocklist whose versions spread lazily from keys to locks,
// lock logs with the 2000-row cap, and signed webhooks with the documented
// retry schedule.
//
// The physical world is driven through methods on *Server (and the small
// admin HTTP API under /sim/): a phone synchronises, a key is programmed at a
// hot spot, a programming key visits a lock, a key is used at a lock, time
// passes, the server crashes and restarts. The clock is injectable.
//
// Where the public documentation is silent the simulator chooses; each choice
// is marked "Assumption Ax" in the code and listed in lockdrivers/iloq/README.md.
//
// Use it in-process (New, then serve the *Server as an http.Handler) or as a
// separate process (Run).
package sim
