package dev.fila.client;

import fila.v1.Admin.AclPermission;
import fila.v1.Admin.CreateApiKeyRequest;
import fila.v1.Admin.CreateQueueRequest;
import fila.v1.Admin.DeleteQueueRequest;
import fila.v1.Admin.ExplainRequest;
import fila.v1.Admin.ExplainResponse;
import fila.v1.Admin.GetAclRequest;
import fila.v1.Admin.GetAclResponse;
import fila.v1.Admin.GetConfigRequest;
import fila.v1.Admin.GetQueueRequest;
import fila.v1.Admin.GetQueueResponse;
import fila.v1.Admin.GetStatsRequest;
import fila.v1.Admin.ListApiKeysRequest;
import fila.v1.Admin.ListConfigRequest;
import fila.v1.Admin.ListQueuesRequest;
import fila.v1.Admin.PeekMessagesRequest;
import fila.v1.Admin.RedriveRequest;
import fila.v1.Admin.RevokeApiKeyRequest;
import fila.v1.Admin.SetAclRequest;
import fila.v1.Admin.SetConfigRequest;
import fila.v1.Admin.UpdateQueueRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The FilaAdmin calls and their conversions; {@link FilaClient} is their public face. */
final class AdminCalls {
  private AdminCalls() {}

  static void createQueue(Core c, Duration t, String name, QueueConfig cfg) {
    CreateQueueRequest req = CreateQueueRequest.newBuilder().setName(name)
        .setConfig((cfg == null ? QueueConfig.DEFAULT : cfg).proto()).build();
    c.invoke("CreateQueue", t, (cn, d) -> cn.admin(d).createQueue(req));
  }

  static void updateQueue(Core c, Duration t, String name, QueueConfig cfg) {
    UpdateQueueRequest req = UpdateQueueRequest.newBuilder().setName(name)
        .setConfig((cfg == null ? QueueConfig.DEFAULT : cfg).proto()).build();
    c.invoke("UpdateQueue", t, (cn, d) -> cn.admin(d).updateQueue(req));
  }

  static QueueDescription getQueue(Core c, Duration t, String name) {
    GetQueueRequest req = GetQueueRequest.newBuilder().setName(name).build();
    GetQueueResponse r = c.invoke("GetQueue", t, (cn, d) -> cn.admin(d).getQueue(req));
    return new QueueDescription(r.getName(), QueueConfig.from(r.getConfig()), r.getDlqOf());
  }

  static void deleteQueue(Core c, Duration t, String name) {
    DeleteQueueRequest req = DeleteQueueRequest.newBuilder().setQueue(name).build();
    c.invoke("DeleteQueue", t, (cn, d) -> cn.admin(d).deleteQueue(req));
  }

  static List<QueueInfo> listQueues(Core c, Duration t) {
    ListQueuesRequest req = ListQueuesRequest.getDefaultInstance();
    return c.invoke("ListQueues", t, (cn, d) -> cn.admin(d).listQueues(req)).getQueuesList()
        .stream().map(q -> new QueueInfo(q.getName(), q.getDepth(), q.getInFlight(),
            q.getActiveConsumers())).toList();
  }

  static void setConfig(Core c, Duration t, String key, String value) {
    SetConfigRequest req = SetConfigRequest.newBuilder().setKey(key).setValue(value).build();
    c.invoke("SetConfig", t, (cn, d) -> cn.admin(d).setConfig(req));
  }

  static String getConfig(Core c, Duration t, String key) {
    GetConfigRequest req = GetConfigRequest.newBuilder().setKey(key).build();
    return c.invoke("GetConfig", t, (cn, d) -> cn.admin(d).getConfig(req)).getValue();
  }

  static Map<String, String> listConfig(Core c, Duration t, String prefix) {
    ListConfigRequest req = ListConfigRequest.newBuilder().setPrefix(prefix).build();
    Map<String, String> out = new LinkedHashMap<>();
    c.invoke("ListConfig", t, (cn, d) -> cn.admin(d).listConfig(req)).getEntriesList()
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  static QueueStats getStats(Core c, Duration t, String queue) {
    GetStatsRequest req = GetStatsRequest.newBuilder().setQueue(queue).build();
    return QueueStats.from(c.invoke("GetStats", t, (cn, d) -> cn.admin(d).getStats(req)));
  }

  static long redrive(Core c, Duration t, String dlq, long count) {
    RedriveRequest req = RedriveRequest.newBuilder().setDlqQueue(dlq).setCount(count).build();
    return c.invoke("Redrive", t, (cn, d) -> cn.admin(d).redrive(req)).getRedriven();
  }

  static List<Message> peek(Core c, Duration t, String queue, int limit) {
    PeekMessagesRequest req = PeekMessagesRequest.newBuilder().setQueue(queue)
        .setLimit(Math.max(0, limit)).build();
    return c.invoke("PeekMessages", t, (cn, d) -> cn.admin(d).peekMessages(req))
        .getMessagesList().stream().map(m -> new Message(m, c, null, 0, queue)).toList();
  }

  static Explanation explain(Core c, Duration t, String queue, String key) {
    ExplainRequest req = ExplainRequest.newBuilder().setQueue(queue).setFairnessKey(key).build();
    ExplainResponse r = c.invoke("Explain", t, (cn, d) -> cn.admin(d).explain(req));
    return new Explanation(r.getSummary(), List.copyOf(r.getReasonsList()), r.getPending(),
        r.getInFlight(), r.getDelayed(), r.getWeight(), r.getActiveKeys(), r.getConsumers());
  }

  static CreatedApiKey createApiKey(Core c, Duration t, String name, Instant expiresAt,
      boolean superadmin) {
    CreateApiKeyRequest.Builder req = CreateApiKeyRequest.newBuilder().setName(name)
        .setIsSuperadmin(superadmin);
    if (expiresAt != null) {
      req.setExpiresAtMs(expiresAt.toEpochMilli());
    }
    CreateApiKeyRequest built = req.build();
    var r = c.invoke("CreateApiKey", t, (cn, d) -> cn.admin(d).createApiKey(built));
    return new CreatedApiKey(r.getKeyId(), r.getKey(), r.getIsSuperadmin());
  }

  static void revokeApiKey(Core c, Duration t, String id) {
    RevokeApiKeyRequest req = RevokeApiKeyRequest.newBuilder().setKeyId(id).build();
    c.invoke("RevokeApiKey", t, (cn, d) -> cn.admin(d).revokeApiKey(req));
  }

  static List<ApiKey> listApiKeys(Core c, Duration t) {
    ListApiKeysRequest req = ListApiKeysRequest.getDefaultInstance();
    return c.invoke("ListApiKeys", t, (cn, d) -> cn.admin(d).listApiKeys(req)).getKeysList()
        .stream().map(k -> new ApiKey(k.getKeyId(), k.getName(), millis(k.getCreatedAtMs()),
            millis(k.getExpiresAtMs()), k.getIsSuperadmin())).toList();
  }

  static void setAcl(Core c, Duration t, String id, List<Permission> perms) {
    SetAclRequest.Builder req = SetAclRequest.newBuilder().setKeyId(id);
    for (Permission p : perms) {
      req.addPermissions(AclPermission.newBuilder().setKind(p.kind()).setPattern(p.pattern()));
    }
    SetAclRequest built = req.build();
    c.invoke("SetAcl", t, (cn, d) -> cn.admin(d).setAcl(built));
  }

  static Acl getAcl(Core c, Duration t, String id) {
    GetAclRequest req = GetAclRequest.newBuilder().setKeyId(id).build();
    GetAclResponse r = c.invoke("GetAcl", t, (cn, d) -> cn.admin(d).getAcl(req));
    return new Acl(r.getKeyId(), r.getPermissionsList().stream()
        .map(p -> new Permission(p.getKind(), p.getPattern())).toList(), r.getIsSuperadmin());
  }

  private static Instant millis(long ms) {
    return ms == 0 ? null : Instant.ofEpochMilli(ms);
  }
}
