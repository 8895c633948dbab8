package driver

import (
	"net/http"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keyward/keyward/lockdrivers/proto/lockdriver/v1"
)

// This file converts between the SDK's Go types and the generated proto
// types. Unknown enum values read as the zero value of the Go type.

func tsToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsFromPB(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime().UTC()
}

func durToPB(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durFromPB(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func mapList[A, B any](in []A, f func(A) B) []B {
	if len(in) == 0 {
		return nil
	}
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

// ---- enums ----

var keyTypes = map[KeyType]pb.KeyType{
	KeyPhysical:    pb.KeyType_KEY_TYPE_PHYSICAL,
	KeyFob:         pb.KeyType_KEY_TYPE_FOB,
	KeyPhone:       pb.KeyType_KEY_TYPE_PHONE,
	KeyTag:         pb.KeyType_KEY_TYPE_TAG,
	KeyProgramming: pb.KeyType_KEY_TYPE_PROGRAMMING,
}

var keyStates = map[KeyState]pb.KeyState{
	KeyPlanning:  pb.KeyState_KEY_STATE_PLANNING,
	KeyHandedOut: pb.KeyState_KEY_STATE_HANDED_OUT,
	KeyReturned:  pb.KeyState_KEY_STATE_RETURNED,
	KeyLost:      pb.KeyState_KEY_STATE_LOST,
	KeyBlocked:   pb.KeyState_KEY_STATE_BLOCKED,
}

var deliveryStates = map[DeliveryState]pb.DeliveryState{
	DeliveryRecorded:    pb.DeliveryState_DELIVERY_STATE_RECORDED,
	DeliveryQueued:      pb.DeliveryState_DELIVERY_STATE_QUEUED,
	DeliveryDelivered:   pb.DeliveryState_DELIVERY_STATE_DELIVERED,
	DeliveryApplied:     pb.DeliveryState_DELIVERY_STATE_APPLIED,
	DeliveryNeedsAction: pb.DeliveryState_DELIVERY_STATE_NEEDS_ACTION,
	DeliveryFailed:      pb.DeliveryState_DELIVERY_STATE_FAILED,
}

var actions = map[Action]pb.Action{
	ActionHandOverKey:   pb.Action_ACTION_HAND_OVER_KEY,
	ActionUpdateKey:     pb.Action_ACTION_UPDATE_KEY,
	ActionVisitLock:     pb.Action_ACTION_VISIT_LOCK,
	ActionUseVendorTool: pb.Action_ACTION_USE_VENDOR_TOOL,
	ActionBuyLicences:   pb.Action_ACTION_BUY_LICENCES,
	ActionOther:         pb.Action_ACTION_OTHER,
}

var propagationStates = map[PropagationState]pb.PropagationState{
	PropagationPending: pb.PropagationState_PROPAGATION_STATE_PENDING,
	PropagationApplied: pb.PropagationState_PROPAGATION_STATE_APPLIED,
	PropagationFailed:  pb.PropagationState_PROPAGATION_STATE_FAILED,
}

var healthStatuses = map[HealthStatus]pb.HealthStatus{
	HealthServing:  pb.HealthStatus_HEALTH_STATUS_SERVING,
	HealthDegraded: pb.HealthStatus_HEALTH_STATUS_DEGRADED,
	HealthDown:     pb.HealthStatus_HEALTH_STATUS_DOWN,
}

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var (
	keyTypesBack          = invert(keyTypes)
	keyStatesBack         = invert(keyStates)
	deliveryStatesBack    = invert(deliveryStates)
	actionsBack           = invert(actions)
	propagationStatesBack = invert(propagationStates)
	healthStatusesBack    = invert(healthStatuses)
)

// ---- info, config, health ----

func infoToPB(in Info) *pb.InfoResponse {
	vs := mapList(in.ContractVersions, func(v int) int32 { return int32(v) })
	c := in.Capabilities
	return &pb.InfoResponse{
		Vendor:           in.Vendor,
		DriverVersion:    in.DriverVersion,
		ContractVersions: vs,
		Capabilities: &pb.Capabilities{
			RemoteKeyUpdate: c.RemoteKeyUpdate,
			LockBlocklist:   c.LockBlocklist,
			Webhooks:        c.Webhooks,
			KeyReturn:       c.KeyReturn,
			Schedules:       c.Schedules,
			ValidityWindows: c.ValidityWindows,
			Revalidation:    c.Revalidation,
			OnlineOpening:   c.OnlineOpening,
		},
		ConfigSchema: in.ConfigSchema,
		Secrets: mapList(in.Secrets, func(s SecretSpec) *pb.SecretSpec {
			return &pb.SecretSpec{Name: s.Name, Description: s.Description, Required: s.Required}
		}),
	}
}

func infoFromPB(in *pb.InfoResponse) Info {
	c := in.GetCapabilities()
	return Info{
		Vendor:           in.GetVendor(),
		DriverVersion:    in.GetDriverVersion(),
		ContractVersions: mapList(in.GetContractVersions(), func(v int32) int { return int(v) }),
		Capabilities: Capabilities{
			RemoteKeyUpdate: c.GetRemoteKeyUpdate(),
			LockBlocklist:   c.GetLockBlocklist(),
			Webhooks:        c.GetWebhooks(),
			KeyReturn:       c.GetKeyReturn(),
			Schedules:       c.GetSchedules(),
			ValidityWindows: c.GetValidityWindows(),
			Revalidation:    c.GetRevalidation(),
			OnlineOpening:   c.GetOnlineOpening(),
		},
		ConfigSchema: in.GetConfigSchema(),
		Secrets: mapList(in.GetSecrets(), func(s *pb.SecretSpec) SecretSpec {
			return SecretSpec{Name: s.GetName(), Description: s.GetDescription(), Required: s.GetRequired()}
		}),
	}
}

func configToPB(in Config) *pb.ConfigureRequest {
	return &pb.ConfigureRequest{LockSystem: in.LockSystem, SettingsJson: in.Settings, Secrets: in.Secrets}
}

func configFromPB(in *pb.ConfigureRequest) Config {
	return Config{LockSystem: in.GetLockSystem(), Settings: in.GetSettingsJson(), Secrets: in.GetSecrets()}
}

func healthToPB(in Health) *pb.HealthResponse {
	return &pb.HealthResponse{Status: healthStatuses[in.Status], Message: in.Message, CheckedAt: tsToPB(in.CheckedAt)}
}

func healthFromPB(in *pb.HealthResponse) Health {
	return Health{Status: healthStatusesBack[in.GetStatus()], Message: in.GetMessage(), CheckedAt: tsFromPB(in.GetCheckedAt())}
}

// ---- inventory ----

func lockToPB(in Lock) *pb.Lock {
	return &pb.Lock{Id: in.ID, Name: in.Name, Kind: in.Kind, Online: in.Online, Attributes: in.Attributes}
}

func lockFromPB(in *pb.Lock) Lock {
	return Lock{ID: in.GetId(), Name: in.GetName(), Kind: in.GetKind(), Online: in.GetOnline(), Attributes: in.GetAttributes()}
}

func keyToPB(in Key) *pb.Key {
	out := &pb.Key{
		Id: in.ID, Label: in.Label, Type: keyTypes[in.Type], State: keyStates[in.State],
		HolderId: in.HolderID, Planned: accessToPB(in.Planned),
	}
	if in.Programmed != nil {
		out.Programmed = accessToPB(*in.Programmed)
	}
	if in.Pending != nil {
		out.Pending = deliveryToPB(*in.Pending)
	}
	return out
}

func keyFromPB(in *pb.Key) Key {
	out := Key{
		ID: in.GetId(), Label: in.GetLabel(), Type: keyTypesBack[in.GetType()],
		State: keyStatesBack[in.GetState()], HolderID: in.GetHolderId(),
		Planned: accessFromPB(in.GetPlanned()),
	}
	if in.Programmed != nil {
		a := accessFromPB(in.Programmed)
		out.Programmed = &a
	}
	if in.Pending != nil {
		d := deliveryFromPB(in.Pending)
		out.Pending = &d
	}
	return out
}

func personToPB(in Person) *pb.Person {
	return &pb.Person{Id: in.ID, ExternalId: in.ExternalID, Name: in.Name, Email: in.Email}
}

func personFromPB(in *pb.Person) Person {
	return Person{ID: in.GetId(), ExternalID: in.GetExternalId(), Name: in.GetName(), Email: in.GetEmail()}
}

func accessObjectToPB(in AccessObject) *pb.AccessObject {
	return &pb.AccessObject{Id: in.ID, Name: in.Name, Kind: in.Kind, LockIds: in.LockIDs}
}

func accessObjectFromPB(in *pb.AccessObject) AccessObject {
	return AccessObject{ID: in.GetId(), Name: in.GetName(), Kind: in.GetKind(), LockIDs: in.GetLockIds()}
}

// ---- access and delivery ----

func accessToPB(in KeyAccess) *pb.KeyAccess {
	out := &pb.KeyAccess{AccessObjectIds: in.AccessObjectIDs}
	if !in.Window.NotBefore.IsZero() || !in.Window.NotAfter.IsZero() {
		out.Window = &pb.Window{NotBefore: tsToPB(in.Window.NotBefore), NotAfter: tsToPB(in.Window.NotAfter)}
	}
	out.Schedule = mapList(in.Schedule, func(s ScheduleInterval) *pb.ScheduleInterval {
		return &pb.ScheduleInterval{Day: pb.Weekday(s.Day), Start: durationpb.New(s.Start), End: durationpb.New(s.End)}
	})
	return out
}

func accessFromPB(in *pb.KeyAccess) KeyAccess {
	if in == nil {
		return KeyAccess{}
	}
	return KeyAccess{
		AccessObjectIDs: in.GetAccessObjectIds(),
		Window: Window{
			NotBefore: tsFromPB(in.GetWindow().GetNotBefore()),
			NotAfter:  tsFromPB(in.GetWindow().GetNotAfter()),
		},
		Schedule: mapList(in.GetSchedule(), func(s *pb.ScheduleInterval) ScheduleInterval {
			return ScheduleInterval{Day: time.Weekday(s.GetDay()), Start: durFromPB(s.GetStart()), End: durFromPB(s.GetEnd())}
		}),
	}
}

func needsActionToPB(in *NeedsAction) *pb.NeedsAction {
	if in == nil {
		return nil
	}
	return &pb.NeedsAction{ReasonCode: in.ReasonCode, Reason: in.Reason, Action: actions[in.Action], LockIds: in.LockIDs}
}

func needsActionFromPB(in *pb.NeedsAction) *NeedsAction {
	if in == nil {
		return nil
	}
	return &NeedsAction{
		ReasonCode: in.GetReasonCode(), Reason: in.GetReason(),
		Action: actionsBack[in.GetAction()], LockIDs: in.GetLockIds(),
	}
}

func removalToPB(in *Removal) *pb.Removal {
	if in == nil {
		return nil
	}
	return &pb.Removal{AccessObjectIds: in.AccessObjectIDs, EffectiveBy: tsToPB(in.EffectiveBy), Unbounded: in.Unbounded}
}

func removalFromPB(in *pb.Removal) *Removal {
	if in == nil {
		return nil
	}
	return &Removal{AccessObjectIDs: in.GetAccessObjectIds(), EffectiveBy: tsFromPB(in.GetEffectiveBy()), Unbounded: in.GetUnbounded()}
}

func deliveryToPB(in Delivery) *pb.Delivery {
	return &pb.Delivery{
		State: deliveryStates[in.State], ChangeId: in.ChangeID,
		NeedsAction: needsActionToPB(in.NeedsAction), Removal: removalToPB(in.Removal),
		Reason: in.Reason, At: tsToPB(in.At),
	}
}

func deliveryFromPB(in *pb.Delivery) Delivery {
	if in == nil {
		return Delivery{}
	}
	return Delivery{
		State: deliveryStatesBack[in.GetState()], ChangeID: in.GetChangeId(),
		NeedsAction: needsActionFromPB(in.GetNeedsAction()), Removal: removalFromPB(in.GetRemoval()),
		Reason: in.GetReason(), At: tsFromPB(in.GetAt()),
	}
}

func setAccessToPB(in SetKeyAccessRequest) *pb.SetKeyAccessRequest {
	return &pb.SetKeyAccessRequest{IdempotencyKey: in.IdempotencyKey, KeyId: in.KeyID, Access: accessToPB(in.Access)}
}

func setAccessFromPB(in *pb.SetKeyAccessRequest) SetKeyAccessRequest {
	return SetKeyAccessRequest{IdempotencyKey: in.GetIdempotencyKey(), KeyID: in.GetKeyId(), Access: accessFromPB(in.GetAccess())}
}

func planToPB(in Plan) *pb.PlanResponse {
	return &pb.PlanResponse{
		NoChange: in.NoChange, Added: in.Added, Removed: in.Removed,
		Expected: deliveryStates[in.Expected], NeedsAction: needsActionToPB(in.NeedsAction),
		Removal: removalToPB(in.Removal), Notes: in.Notes,
	}
}

func planFromPB(in *pb.PlanResponse) Plan {
	return Plan{
		NoChange: in.GetNoChange(), Added: in.GetAdded(), Removed: in.GetRemoved(),
		Expected: deliveryStatesBack[in.GetExpected()], NeedsAction: needsActionFromPB(in.GetNeedsAction()),
		Removal: removalFromPB(in.GetRemoval()), Notes: in.GetNotes(),
	}
}

// ---- block ----

func propagationToPB(in LockPropagation) *pb.LockPropagation {
	return &pb.LockPropagation{LockId: in.LockID, State: propagationStates[in.State], At: tsToPB(in.At)}
}

func propagationFromPB(in *pb.LockPropagation) LockPropagation {
	return LockPropagation{LockID: in.GetLockId(), State: propagationStatesBack[in.GetState()], At: tsFromPB(in.GetAt())}
}

func blockResultToPB(in BlockResult) *pb.BlockKeyResponse {
	return &pb.BlockKeyResponse{Delivery: deliveryToPB(in.Delivery), Locks: mapList(in.Locks, propagationToPB)}
}

func blockResultFromPB(in *pb.BlockKeyResponse) BlockResult {
	return BlockResult{Delivery: deliveryFromPB(in.GetDelivery()), Locks: mapList(in.GetLocks(), propagationFromPB)}
}

// ---- changes and webhooks ----

func changeToPB(in Change) *pb.Change {
	out := &pb.Change{Id: in.ID, Cursor: in.Cursor, At: tsToPB(in.At)}
	switch {
	case in.Delivery != nil:
		out.Event = &pb.Change_Delivery{Delivery: &pb.DeliveryChange{
			KeyId: in.Delivery.KeyID, Delivery: deliveryToPB(in.Delivery.Delivery),
		}}
	case in.LockEvent != nil:
		e := in.LockEvent
		out.Event = &pb.Change_LockEvent{LockEvent: &pb.LockEvent{
			LockId: e.LockID, KeyId: e.KeyID, Opened: e.Opened, Reason: e.Reason,
		}}
	case in.KeyState != nil:
		k := in.KeyState
		ks := &pb.KeyStateChange{KeyId: k.KeyID, State: keyStates[k.State], HolderId: k.HolderID}
		if k.Programmed != nil {
			ks.Programmed = accessToPB(*k.Programmed)
		}
		out.Event = &pb.Change_KeyState{KeyState: ks}
	case in.Block != nil:
		out.Event = &pb.Change_Block{Block: &pb.BlockChange{
			KeyId: in.Block.KeyID, Blocked: in.Block.Blocked, Lock: propagationToPB(in.Block.Lock),
		}}
	}
	return out
}

func changeFromPB(in *pb.Change) Change {
	out := Change{ID: in.GetId(), Cursor: in.GetCursor(), At: tsFromPB(in.GetAt())}
	switch e := in.GetEvent().(type) {
	case *pb.Change_Delivery:
		out.Kind = ChangeDelivery
		out.Delivery = &DeliveryChange{KeyID: e.Delivery.GetKeyId(), Delivery: deliveryFromPB(e.Delivery.GetDelivery())}
	case *pb.Change_LockEvent:
		out.Kind = ChangeLockEvent
		l := e.LockEvent
		out.LockEvent = &LockEvent{LockID: l.GetLockId(), KeyID: l.GetKeyId(), Opened: l.GetOpened(), Reason: l.GetReason()}
	case *pb.Change_KeyState:
		out.Kind = ChangeKeyState
		k := e.KeyState
		ks := &KeyStateChange{KeyID: k.GetKeyId(), State: keyStatesBack[k.GetState()], HolderID: k.GetHolderId()}
		if k.Programmed != nil {
			a := accessFromPB(k.Programmed)
			ks.Programmed = &a
		}
		out.KeyState = ks
	case *pb.Change_Block:
		out.Kind = ChangeBlock
		out.Block = &BlockChange{KeyID: e.Block.GetKeyId(), Blocked: e.Block.GetBlocked(), Lock: propagationFromPB(e.Block.GetLock())}
	}
	return out
}

func webhookToPB(in Webhook) *pb.WebhookRequest {
	out := &pb.WebhookRequest{Body: in.Body}
	for name, values := range in.Header {
		out.Headers = append(out.Headers, &pb.Header{Name: name, Values: values})
	}
	return out
}

func webhookFromPB(in *pb.WebhookRequest) Webhook {
	h := make(http.Header, len(in.GetHeaders()))
	for _, hd := range in.GetHeaders() {
		for _, v := range hd.GetValues() {
			h.Add(hd.GetName(), v)
		}
	}
	return Webhook{Header: h, Body: in.GetBody()}
}
