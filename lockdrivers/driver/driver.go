package driver

import (
	"context"
)

// ContractVersion is the version of the lockdriver gRPC contract this SDK
// speaks (proto package lockdriver.v1). It is also the go-plugin protocol
// version under which the plugin set is served (see VersionedPlugins).
const ContractVersion = 1

// PluginName is the name of the one plugin a driver process serves.
const PluginName = "lockdriver"

// Driver is what a lock driver implements: one instance drives one lock
// system (one CLIQ Web Manager, one iLOQ customer, ...).
//
// Contract for every method:
//   - Calls for one lock system are serialised by the host; a driver need not
//     be safe for concurrent writes, but reads (List*, Changes, Health, Info)
//     may run beside a write.
//   - Every write carries an idempotency key chosen by the host. The host
//     retries a write whose outcome it did not see (timeout, driver crash)
//     with the same key, possibly in a new driver process that has no memory
//     of the first attempt. The driver must make the retry harmless, usually
//     by reading the vendor's state first or by handing the vendor a
//     client-generated id derived from the idempotency key.
//   - Errors are returned as *Error (see E, Errorf) so their Kind survives the
//     plugin boundary; any other error arrives at the host as KindUnknown.
//   - Times are UTC; the zero time.Time means "not set".
type Driver interface {
	// Info describes the driver: vendor, driver version, contract versions
	// and capabilities, and the JSON Schema of its configuration. It must
	// work before Configure.
	Info(ctx context.Context) (Info, error)

	// Configure validates cfg and, when it is valid, applies it. Invalid
	// configuration is reported as a KindInvalid *Error whose Problems list
	// every problem found, not just the first. Configure may be called again
	// with a new configuration.
	Configure(ctx context.Context, cfg Config) error

	// Health reports whether the driver can reach its vendor system.
	Health(ctx context.Context) (Health, error)

	// ListLocks, ListKeys, ListPersons and ListAccessObjects read the lock
	// system's inventory from req.Cursor on, handing it to yield one page at a
	// time. Each page carries the cursor that resumes after it; the last page
	// has Next == "". Stop and return yield's error if it returns one. A page
	// holds at most req.PageSize items (a driver may choose a default when it
	// is 0).
	ListLocks(ctx context.Context, req ListRequest, yield func(Page[Lock]) error) error
	ListKeys(ctx context.Context, req ListRequest, yield func(Page[Key]) error) error
	ListPersons(ctx context.Context, req ListRequest, yield func(Page[Person]) error) error
	ListAccessObjects(ctx context.Context, req ListRequest, yield func(Page[AccessObject]) error) error

	// EnsurePerson creates the person in the lock system, or finds the one
	// whose ExternalID matches, and returns it with its vendor ID.
	EnsurePerson(ctx context.Context, req EnsurePersonRequest) (Person, error)

	// AssignKey records that a person holds a key (custody).
	AssignKey(ctx context.Context, req AssignKeyRequest) (Key, error)

	// ReturnKey records that a key came back from its holder.
	ReturnKey(ctx context.Context, req KeyRequest) (Key, error)

	// ReportKeyLost records that a key is lost.
	ReportKeyLost(ctx context.Context, req KeyRequest) (Key, error)

	// SetKeyAccess makes req.Access the whole access of one key: access
	// objects not listed are removed. It is declarative and idempotent under
	// req.IdempotencyKey: the same request again must not send the change to
	// the vendor again. The answer says how far the change got (Delivery)
	// and, if it removed anything, by when the removal is effective.
	SetKeyAccess(ctx context.Context, req SetKeyAccessRequest) (Delivery, error)

	// Plan is a dry run of SetKeyAccess using the vendor's pre-checks; it
	// changes nothing.
	Plan(ctx context.Context, req SetKeyAccessRequest) (Plan, error)

	// BlockKey blocklists a key (lock-side where the vendor can do it) and
	// UnblockKey lifts the block; both report propagation per lock where the
	// vendor has it.
	BlockKey(ctx context.Context, req BlockKeyRequest) (BlockResult, error)
	UnblockKey(ctx context.Context, req BlockKeyRequest) (BlockResult, error)

	// Changes hands yield the changes after req.Cursor (delivery transitions,
	// lock events, key state changes) in order, then returns: the stream ends
	// when the driver has caught up. Each Change carries the cursor that
	// resumes after it. Late, duplicate and out-of-order vendor events are
	// de-duplicated by their vendor ID: a change with a given ID is handed
	// out once per cursor position.
	Changes(ctx context.Context, req ChangesRequest, yield func(Change) error) error

	// HandleWebhook verifies and decodes a vendor webhook keyward received at
	// /hooks/<lock system>. A bad signature is a KindUnauthenticated error.
	// Drivers without the Webhooks capability return a KindInvalid error.
	HandleWebhook(ctx context.Context, req Webhook) ([]Change, error)
}
