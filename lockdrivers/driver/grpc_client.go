package driver

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	pb "github.com/keyward/keyward/lockdrivers/proto/lockdriver/v1"
)

// Client is the host side of contract v1: it implements Driver over a gRPC
// connection to a driver process. Errors come back as *Error with the kind
// the driver gave them (restored from the status details); errors raised by
// gRPC itself get a kind from their status code (a deadline or a lost
// connection is KindTransient).
type Client struct {
	rpc pb.LockDriverClient
}

var _ Driver = (*Client)(nil)

// NewClient returns a Client over conn.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: pb.NewLockDriverClient(conn)}
}

// Info implements Driver.
func (c *Client) Info(ctx context.Context) (Info, error) {
	r, err := c.rpc.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return infoFromPB(r), nil
}

// Configure implements Driver.
func (c *Client) Configure(ctx context.Context, cfg Config) error {
	_, err := c.rpc.Configure(ctx, configToPB(cfg))
	return fromStatus(err)
}

// Health implements Driver.
func (c *Client) Health(ctx context.Context) (Health, error) {
	r, err := c.rpc.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return Health{}, fromStatus(err)
	}
	return healthFromPB(r), nil
}

type receiver[M any] interface {
	Recv() (M, error)
}

// recvAll opens a server stream, converts every message and hands it to
// yield; a yield error cancels the stream and is returned as is.
func recvAll[M, T any](ctx context.Context, open func(context.Context) (receiver[M], error),
	conv func(M) T, yield func(T) error,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(ctx)
	if err != nil {
		return fromStatus(err)
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus(err)
		}
		if err := yield(conv(m)); err != nil {
			return err
		}
	}
}

func listToPB(req ListRequest) *pb.ListRequest {
	return &pb.ListRequest{Cursor: req.Cursor, PageSize: int32(req.PageSize)}
}

// ListLocks implements Driver.
func (c *Client) ListLocks(ctx context.Context, req ListRequest, yield func(Page[Lock]) error) error {
	return recvAll(ctx, func(ctx context.Context) (receiver[*pb.LockPage], error) {
		return c.rpc.ListLocks(ctx, listToPB(req))
	}, func(p *pb.LockPage) Page[Lock] {
		return Page[Lock]{Items: mapList(p.GetItems(), lockFromPB), Next: p.GetNext()}
	}, yield)
}

// ListKeys implements Driver.
func (c *Client) ListKeys(ctx context.Context, req ListRequest, yield func(Page[Key]) error) error {
	return recvAll(ctx, func(ctx context.Context) (receiver[*pb.KeyPage], error) {
		return c.rpc.ListKeys(ctx, listToPB(req))
	}, func(p *pb.KeyPage) Page[Key] {
		return Page[Key]{Items: mapList(p.GetItems(), keyFromPB), Next: p.GetNext()}
	}, yield)
}

// ListPersons implements Driver.
func (c *Client) ListPersons(ctx context.Context, req ListRequest, yield func(Page[Person]) error) error {
	return recvAll(ctx, func(ctx context.Context) (receiver[*pb.PersonPage], error) {
		return c.rpc.ListPersons(ctx, listToPB(req))
	}, func(p *pb.PersonPage) Page[Person] {
		return Page[Person]{Items: mapList(p.GetItems(), personFromPB), Next: p.GetNext()}
	}, yield)
}

// ListAccessObjects implements Driver.
func (c *Client) ListAccessObjects(ctx context.Context, req ListRequest, yield func(Page[AccessObject]) error) error {
	return recvAll(ctx, func(ctx context.Context) (receiver[*pb.AccessObjectPage], error) {
		return c.rpc.ListAccessObjects(ctx, listToPB(req))
	}, func(p *pb.AccessObjectPage) Page[AccessObject] {
		return Page[AccessObject]{Items: mapList(p.GetItems(), accessObjectFromPB), Next: p.GetNext()}
	}, yield)
}

// EnsurePerson implements Driver.
func (c *Client) EnsurePerson(ctx context.Context, req EnsurePersonRequest) (Person, error) {
	r, err := c.rpc.EnsurePerson(ctx, &pb.EnsurePersonRequest{
		IdempotencyKey: req.IdempotencyKey, Person: personToPB(req.Person),
	})
	if err != nil {
		return Person{}, fromStatus(err)
	}
	return personFromPB(r.GetPerson()), nil
}

func keyFromResponse(r *pb.KeyResponse, err error) (Key, error) {
	if err != nil {
		return Key{}, fromStatus(err)
	}
	return keyFromPB(r.GetKey()), nil
}

// AssignKey implements Driver.
func (c *Client) AssignKey(ctx context.Context, req AssignKeyRequest) (Key, error) {
	return keyFromResponse(c.rpc.AssignKey(ctx, &pb.AssignKeyRequest{
		IdempotencyKey: req.IdempotencyKey, KeyId: req.KeyID, PersonId: req.PersonID,
	}))
}

// ReturnKey implements Driver.
func (c *Client) ReturnKey(ctx context.Context, req KeyRequest) (Key, error) {
	return keyFromResponse(c.rpc.ReturnKey(ctx, &pb.KeyRequest{IdempotencyKey: req.IdempotencyKey, KeyId: req.KeyID}))
}

// ReportKeyLost implements Driver.
func (c *Client) ReportKeyLost(ctx context.Context, req KeyRequest) (Key, error) {
	return keyFromResponse(c.rpc.ReportKeyLost(ctx, &pb.KeyRequest{IdempotencyKey: req.IdempotencyKey, KeyId: req.KeyID}))
}

// SetKeyAccess implements Driver.
func (c *Client) SetKeyAccess(ctx context.Context, req SetKeyAccessRequest) (Delivery, error) {
	r, err := c.rpc.SetKeyAccess(ctx, setAccessToPB(req))
	if err != nil {
		return Delivery{}, fromStatus(err)
	}
	return deliveryFromPB(r.GetDelivery()), nil
}

// Plan implements Driver.
func (c *Client) Plan(ctx context.Context, req SetKeyAccessRequest) (Plan, error) {
	r, err := c.rpc.Plan(ctx, setAccessToPB(req))
	if err != nil {
		return Plan{}, fromStatus(err)
	}
	return planFromPB(r), nil
}

func blockReqToPB(req BlockKeyRequest) *pb.BlockKeyRequest {
	return &pb.BlockKeyRequest{IdempotencyKey: req.IdempotencyKey, KeyId: req.KeyID, Reason: req.Reason}
}

// BlockKey implements Driver.
func (c *Client) BlockKey(ctx context.Context, req BlockKeyRequest) (BlockResult, error) {
	r, err := c.rpc.BlockKey(ctx, blockReqToPB(req))
	if err != nil {
		return BlockResult{}, fromStatus(err)
	}
	return blockResultFromPB(r), nil
}

// UnblockKey implements Driver.
func (c *Client) UnblockKey(ctx context.Context, req BlockKeyRequest) (BlockResult, error) {
	r, err := c.rpc.UnblockKey(ctx, blockReqToPB(req))
	if err != nil {
		return BlockResult{}, fromStatus(err)
	}
	return blockResultFromPB(r), nil
}

// Changes implements Driver. With req.Follow the stream stays open until ctx
// is cancelled (which then ends Changes without error).
func (c *Client) Changes(ctx context.Context, req ChangesRequest, yield func(Change) error) error {
	err := recvAll(ctx, func(ctx context.Context) (receiver[*pb.ChangeBatch], error) {
		return c.rpc.Changes(ctx, &pb.ChangesRequest{
			Cursor: req.Cursor, Limit: int32(req.Limit), Follow: req.Follow, PollInterval: durToPB(req.PollInterval),
		})
	}, func(b *pb.ChangeBatch) *pb.ChangeBatch { return b }, func(b *pb.ChangeBatch) error {
		for _, ch := range b.GetChanges() {
			if err := yield(changeFromPB(ch)); err != nil {
				return err
			}
		}
		return nil
	})
	if req.Follow && ctx.Err() != nil && KindOf(err) == KindTransient {
		return nil
	}
	return err
}

// HandleWebhook implements Driver.
func (c *Client) HandleWebhook(ctx context.Context, req Webhook) ([]Change, error) {
	r, err := c.rpc.HandleWebhook(ctx, webhookToPB(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return mapList(r.GetChanges(), changeFromPB), nil
}
