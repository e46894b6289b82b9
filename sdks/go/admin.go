package fila

import (
	"context"
	"strconv"

	"google.golang.org/grpc"

	pb "github.com/fila-project/fila/sdks/go/filapb"
)

// admin runs one FilaAdmin call with the client's deadline, retries and error mapping.
func admin[Req, Resp any](ctx context.Context, c *Client, op string, req Req,
	method func(pb.FilaAdminClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	return invoke(ctx, c, op, func(ctx context.Context, cn *conn, o ...grpc.CallOption) (Resp, error) {
		return method(cn.admin, ctx, req, o...)
	})
}

// CreateQueue creates a queue, and its dead-letter queue name + ".dlq" (cfg nil: defaults).
// A queue that exists already is ErrAlreadyExists; a script that does not compile is
// ErrInvalidArgument.
func (c *Client) CreateQueue(ctx context.Context, name string, cfg *QueueConfig) error {
	_, err := admin(ctx, c, "CreateQueue", &pb.CreateQueueRequest{Name: name, Config: cfg.proto()},
		pb.FilaAdminClient.CreateQueue)
	return err
}

// UpdateQueue replaces a queue's scripts and settings as a whole (a field left zero goes
// back to its default): start from GetQueue to change one. A bad script changes nothing.
func (c *Client) UpdateQueue(ctx context.Context, name string, cfg *QueueConfig) error {
	_, err := admin(ctx, c, "UpdateQueue", &pb.UpdateQueueRequest{Name: name, Config: cfg.proto()},
		pb.FilaAdminClient.UpdateQueue)
	return err
}

// GetQueue returns a queue's settings, defaults filled in.
func (c *Client) GetQueue(ctx context.Context, name string) (*Queue, error) {
	r, err := admin(ctx, c, "GetQueue", &pb.GetQueueRequest{Name: name}, pb.FilaAdminClient.GetQueue)
	if err != nil {
		return nil, err
	}
	return &Queue{Name: r.GetName(), Config: queueConfigFrom(r.GetConfig()), DLQOf: r.GetDlqOf()}, nil
}

// DeleteQueue deletes a queue, its dead-letter queue and every message in them.
func (c *Client) DeleteQueue(ctx context.Context, name string) error {
	_, err := admin(ctx, c, "DeleteQueue", &pb.DeleteQueueRequest{Queue: name}, pb.FilaAdminClient.DeleteQueue)
	return err
}

// ListQueues returns every queue the client may see.
func (c *Client) ListQueues(ctx context.Context) ([]QueueInfo, error) {
	r, err := admin(ctx, c, "ListQueues", &pb.ListQueuesRequest{}, pb.FilaAdminClient.ListQueues)
	if err != nil {
		return nil, err
	}
	out := make([]QueueInfo, 0, len(r.GetQueues()))
	for _, q := range r.GetQueues() {
		out = append(out, QueueInfo{Name: q.GetName(), Depth: q.GetDepth(), InFlight: q.GetInFlight(),
			ActiveConsumers: q.GetActiveConsumers()})
	}
	return out, nil
}

// SetConfig sets a runtime config key (read by Lua hooks with fila.get); an empty value
// deletes it.
func (c *Client) SetConfig(ctx context.Context, key, value string) error {
	_, err := admin(ctx, c, "SetConfig", &pb.SetConfigRequest{Key: key, Value: value}, pb.FilaAdminClient.SetConfig)
	return err
}

// GetConfig returns a runtime config value; a key that is not set is ErrNotFound.
func (c *Client) GetConfig(ctx context.Context, key string) (string, error) {
	r, err := admin(ctx, c, "GetConfig", &pb.GetConfigRequest{Key: key}, pb.FilaAdminClient.GetConfig)
	if err != nil {
		return "", err
	}
	return r.GetValue(), nil
}

// ListConfig returns every runtime config key starting with prefix, and its value.
func (c *Client) ListConfig(ctx context.Context, prefix string) (map[string]string, error) {
	r, err := admin(ctx, c, "ListConfig", &pb.ListConfigRequest{Prefix: prefix}, pb.FilaAdminClient.ListConfig)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(r.GetEntries()))
	for _, e := range r.GetEntries() {
		out[e.GetKey()] = e.GetValue()
	}
	return out, nil
}

// SetThrottle gives throttle key `key` a token bucket: ratePerSecond tokens a second, at
// most burst of them (burst <= 0: max(1, rate)). It is the runtime config entry
// "throttle.<key>" = "<rate>,<burst>"; every queue whose messages name the key shares it.
func (c *Client) SetThrottle(ctx context.Context, key string, ratePerSecond, burst float64) error {
	if burst <= 0 {
		burst = max(1, ratePerSecond)
	}
	value := strconv.FormatFloat(ratePerSecond, 'g', -1, 64) + "," + strconv.FormatFloat(burst, 'g', -1, 64)
	return c.SetConfig(ctx, "throttle."+key, value)
}

// ClearThrottle removes the token bucket of throttle key `key`: its messages are no longer
// limited.
func (c *Client) ClearThrottle(ctx context.Context, key string) error {
	return c.SetConfig(ctx, "throttle."+key, "")
}

// GetStats returns a queue's depth, in-flight count, consumers, fairness keys, throttles
// and hooks.
func (c *Client) GetStats(ctx context.Context, queue string) (*QueueStats, error) {
	r, err := admin(ctx, c, "GetStats", &pb.GetStatsRequest{Queue: queue}, pb.FilaAdminClient.GetStats)
	if err != nil {
		return nil, err
	}
	return queueStatsFrom(r), nil
}

// Redrive moves up to count (0: all) ready messages of a dead-letter queue back to its
// queue, oldest first, and returns how many moved.
func (c *Client) Redrive(ctx context.Context, dlq string, count uint64) (uint64, error) {
	r, err := admin(ctx, c, "Redrive", &pb.RedriveRequest{DlqQueue: dlq, Count: count}, pb.FilaAdminClient.Redrive)
	if err != nil {
		return 0, err
	}
	return r.GetRedriven(), nil
}

// Peek returns up to limit (0: 100) messages of a queue, oldest first, without leasing them.
func (c *Client) Peek(ctx context.Context, queue string, limit int) ([]*Message, error) {
	r, err := admin(ctx, c, "PeekMessages", &pb.PeekMessagesRequest{Queue: queue, Limit: uint32(max(limit, 0))},
		pb.FilaAdminClient.PeekMessages)
	if err != nil {
		return nil, err
	}
	out := make([]*Message, 0, len(r.GetMessages()))
	for _, m := range r.GetMessages() {
		out = append(out, newMessage(m, c))
	}
	return out, nil
}

// Explain says, in plain words from live state, why a fairness key of a queue is waiting.
func (c *Client) Explain(ctx context.Context, queue, fairnessKey string) (*Explanation, error) {
	r, err := admin(ctx, c, "Explain", &pb.ExplainRequest{Queue: queue, FairnessKey: fairnessKey}, pb.FilaAdminClient.Explain)
	if err != nil {
		return nil, err
	}
	return &Explanation{Summary: r.GetSummary(), Reasons: r.GetReasons(), Pending: r.GetPending(),
		InFlight: r.GetInFlight(), Delayed: r.GetDelayed(), Weight: r.GetWeight(),
		ActiveKeys: r.GetActiveKeys(), Consumers: r.GetConsumers()}, nil
}

// CreateAPIKey creates an API key (superadmins only) and returns its id and the key itself,
// which is shown only this once. A new key may do nothing until SetACL gives it permissions.
func (c *Client) CreateAPIKey(ctx context.Context, name string, o APIKeyOptions) (id, key string, err error) {
	req := &pb.CreateApiKeyRequest{Name: name, IsSuperadmin: o.Superadmin}
	if !o.ExpiresAt.IsZero() {
		req.ExpiresAtMs = uint64(o.ExpiresAt.UnixMilli())
	}
	r, err := admin(ctx, c, "CreateApiKey", req, pb.FilaAdminClient.CreateApiKey)
	if err != nil {
		return "", "", err
	}
	return r.GetKeyId(), r.GetKey(), nil
}

// RevokeAPIKey deletes a key: its next call fails, and its open streams end.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := admin(ctx, c, "RevokeApiKey", &pb.RevokeApiKeyRequest{KeyId: id}, pb.FilaAdminClient.RevokeApiKey)
	return err
}

// ListAPIKeys describes every API key (never their secrets).
func (c *Client) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	r, err := admin(ctx, c, "ListApiKeys", &pb.ListApiKeysRequest{}, pb.FilaAdminClient.ListApiKeys)
	if err != nil {
		return nil, err
	}
	out := make([]APIKey, 0, len(r.GetKeys()))
	for _, k := range r.GetKeys() {
		out = append(out, APIKey{ID: k.GetKeyId(), Name: k.GetName(), CreatedAt: timeFromMS(k.GetCreatedAtMs()),
			ExpiresAt: timeFromMS(k.GetExpiresAtMs()), Superadmin: k.GetIsSuperadmin()})
	}
	return out, nil
}

// SetACL replaces the permissions of an API key.
func (c *Client) SetACL(ctx context.Context, id string, perms []Permission) error {
	req := &pb.SetAclRequest{KeyId: id}
	for _, p := range perms {
		req.Permissions = append(req.Permissions, &pb.AclPermission{Kind: p.Kind, Pattern: p.Pattern})
	}
	_, err := admin(ctx, c, "SetAcl", req, pb.FilaAdminClient.SetAcl)
	return err
}

// GetACL returns the permissions of an API key and whether it is a superadmin.
func (c *Client) GetACL(ctx context.Context, id string) (perms []Permission, superadmin bool, err error) {
	r, err := admin(ctx, c, "GetAcl", &pb.GetAclRequest{KeyId: id}, pb.FilaAdminClient.GetAcl)
	if err != nil {
		return nil, false, err
	}
	for _, p := range r.GetPermissions() {
		perms = append(perms, Permission{Kind: p.GetKind(), Pattern: p.GetPattern()})
	}
	return perms, r.GetIsSuperadmin(), nil
}
