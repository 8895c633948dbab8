package driver

import (
	"context"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	pb "github.com/keyward/keyward/lockdrivers/proto/lockdriver/v1"
)

// GRPCPlugin is the go-plugin plugin of contract v1. In a driver process
// Impl is the driver; on the host Impl is nil and Dispense returns *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Driver
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the driver's gRPC service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterLockDriverServer(s, NewServer(p.Impl))
	return nil
}

// GRPCClient returns the host-side *Client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewClient(c), nil
}

// server adapts a Driver to the generated gRPC service.
type server struct {
	pb.UnimplementedLockDriverServer
	impl Driver
}

// NewServer returns the gRPC service of contract v1 around impl. Serve uses
// it; tests and in-process hosts may register it on their own grpc.Server.
func NewServer(impl Driver) pb.LockDriverServer {
	return &server{impl: impl}
}

func (s *server) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if len(info.ContractVersions) == 0 {
		info.ContractVersions = []int{ContractVersion}
	}
	return infoToPB(info), nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.impl.Configure(ctx, configFromPB(req)); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *server) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	h, err := s.impl.Health(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return healthToPB(h), nil
}

func listReq(req *pb.ListRequest) ListRequest {
	return ListRequest{Cursor: req.GetCursor(), PageSize: int(req.GetPageSize())}
}

func (s *server) ListLocks(req *pb.ListRequest, stream pb.LockDriver_ListLocksServer) error {
	return toStatus(s.impl.ListLocks(stream.Context(), listReq(req), func(p Page[Lock]) error {
		return stream.Send(&pb.LockPage{Items: mapList(p.Items, lockToPB), Next: p.Next})
	}))
}

func (s *server) ListKeys(req *pb.ListRequest, stream pb.LockDriver_ListKeysServer) error {
	return toStatus(s.impl.ListKeys(stream.Context(), listReq(req), func(p Page[Key]) error {
		return stream.Send(&pb.KeyPage{Items: mapList(p.Items, keyToPB), Next: p.Next})
	}))
}

func (s *server) ListPersons(req *pb.ListRequest, stream pb.LockDriver_ListPersonsServer) error {
	return toStatus(s.impl.ListPersons(stream.Context(), listReq(req), func(p Page[Person]) error {
		return stream.Send(&pb.PersonPage{Items: mapList(p.Items, personToPB), Next: p.Next})
	}))
}

func (s *server) ListAccessObjects(req *pb.ListRequest, stream pb.LockDriver_ListAccessObjectsServer) error {
	return toStatus(s.impl.ListAccessObjects(stream.Context(), listReq(req), func(p Page[AccessObject]) error {
		return stream.Send(&pb.AccessObjectPage{Items: mapList(p.Items, accessObjectToPB), Next: p.Next})
	}))
}

func (s *server) EnsurePerson(ctx context.Context, req *pb.EnsurePersonRequest) (*pb.EnsurePersonResponse, error) {
	p, err := s.impl.EnsurePerson(ctx, EnsurePersonRequest{
		IdempotencyKey: req.GetIdempotencyKey(), Person: personFromPB(req.GetPerson()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EnsurePersonResponse{Person: personToPB(p)}, nil
}

func (s *server) AssignKey(ctx context.Context, req *pb.AssignKeyRequest) (*pb.KeyResponse, error) {
	k, err := s.impl.AssignKey(ctx, AssignKeyRequest{
		IdempotencyKey: req.GetIdempotencyKey(), KeyID: req.GetKeyId(), PersonID: req.GetPersonId(),
	})
	return keyResponse(k, err)
}

func (s *server) ReturnKey(ctx context.Context, req *pb.KeyRequest) (*pb.KeyResponse, error) {
	return keyResponse(s.impl.ReturnKey(ctx, KeyRequest{IdempotencyKey: req.GetIdempotencyKey(), KeyID: req.GetKeyId()}))
}

func (s *server) ReportKeyLost(ctx context.Context, req *pb.KeyRequest) (*pb.KeyResponse, error) {
	return keyResponse(s.impl.ReportKeyLost(ctx, KeyRequest{IdempotencyKey: req.GetIdempotencyKey(), KeyID: req.GetKeyId()}))
}

func keyResponse(k Key, err error) (*pb.KeyResponse, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.KeyResponse{Key: keyToPB(k)}, nil
}

func (s *server) SetKeyAccess(ctx context.Context, req *pb.SetKeyAccessRequest) (*pb.SetKeyAccessResponse, error) {
	d, err := s.impl.SetKeyAccess(ctx, setAccessFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetKeyAccessResponse{Delivery: deliveryToPB(d)}, nil
}

func (s *server) Plan(ctx context.Context, req *pb.SetKeyAccessRequest) (*pb.PlanResponse, error) {
	p, err := s.impl.Plan(ctx, setAccessFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return planToPB(p), nil
}

func (s *server) BlockKey(ctx context.Context, req *pb.BlockKeyRequest) (*pb.BlockKeyResponse, error) {
	r, err := s.impl.BlockKey(ctx, blockReqFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return blockResultToPB(r), nil
}

func (s *server) UnblockKey(ctx context.Context, req *pb.BlockKeyRequest) (*pb.BlockKeyResponse, error) {
	r, err := s.impl.UnblockKey(ctx, blockReqFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return blockResultToPB(r), nil
}

func blockReqFromPB(req *pb.BlockKeyRequest) BlockKeyRequest {
	return BlockKeyRequest{IdempotencyKey: req.GetIdempotencyKey(), KeyID: req.GetKeyId(), Reason: req.GetReason()}
}

// A batch of changes is sent when it holds changeBatch changes or about
// changeBatchBytes, so memory and latency stay bounded however large the
// changes are, or when its oldest change has waited changeFlush for company.
const (
	changeBatch      = 1024
	changeBatchBytes = 1 << 20
	changeFlush      = 50 * time.Millisecond
)

// Changes runs the driver's Changes once, or, with follow, again every poll
// interval from the last cursor until the caller cancels. Changes are sent
// in batches: when a batch is full, when a change has waited changeFlush for
// the next one, and whenever the driver's Changes returns.
func (s *server) Changes(req *pb.ChangesRequest, stream pb.LockDriver_ChangesServer) error {
	ctx := stream.Context()
	in := ChangesRequest{Cursor: req.GetCursor(), Limit: int(req.GetLimit())}
	batch := &pb.ChangeBatch{}
	var oldest time.Time
	size := 0
	flush := func() error {
		if len(batch.Changes) == 0 {
			return nil
		}
		err := stream.Send(batch)
		batch = &pb.ChangeBatch{Changes: make([]*pb.Change, 0, len(batch.Changes))}
		size = 0
		return err
	}
	send := func(c Change) error {
		if c.Delivery == nil && c.LockEvent == nil && c.KeyState == nil && c.Block == nil {
			return Errorf(KindUnknown, "changes", "driver produced change %q without an event", c.ID)
		}
		if len(batch.Changes) == 0 {
			oldest = time.Now()
		}
		m := changeToPB(c)
		batch.Changes = append(batch.Changes, m)
		size += proto.Size(m)
		in.Cursor = c.Cursor
		if len(batch.Changes) >= changeBatch || size >= changeBatchBytes || time.Since(oldest) >= changeFlush {
			return flush()
		}
		return nil
	}
	run := func() error {
		err := s.impl.Changes(ctx, in, send)
		if ferr := flush(); err == nil {
			err = ferr
		}
		return err
	}
	if err := run(); err != nil {
		return toStatus(err)
	}
	if !req.GetFollow() {
		return nil
	}
	// TODO: follow polls the driver every poll interval; a driver fed by
	// push (webhooks, a vendor long-poll) cannot wake the stream early, so a
	// following host sees a change up to one interval late.
	every := durFromPB(req.GetPollInterval())
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := run(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return toStatus(err)
		}
	}
}

func (s *server) HandleWebhook(ctx context.Context, req *pb.WebhookRequest) (*pb.WebhookResponse, error) {
	changes, err := s.impl.HandleWebhook(ctx, webhookFromPB(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.WebhookResponse{Changes: mapList(changes, changeToPB)}, nil
}
