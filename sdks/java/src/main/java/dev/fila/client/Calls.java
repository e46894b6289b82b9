package dev.fila.client;

import fila.v1.Service;
import io.grpc.Deadline;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.function.IntFunction;

/**
 * The hot path's RPCs: EnqueueBatch, AckBatch, NackBatch and ExtendLease, each item's result
 * mapped on its own. Against a broker without Fila's batch RPCs (the original broker answers
 * UNIMPLEMENTED) the single-message RPCs are sent instead, several at once: the same API,
 * without the batching.
 */
final class Calls {
  /** One ack waiting in a batch. */
  record AckItem(String id, String leaseId) {
    int size() {
      return id.length() + leaseId.length() + 8;
    }
  }

  /** One nack waiting in a batch. */
  record NackItem(String id, String leaseId, String error) {
    int size() {
      return id.length() + leaseId.length() + error.length() + 12;
    }
  }

  /** How many single-message RPCs one batch becomes at once on an original broker. */
  private static final int LEGACY_CONCURRENCY = 16;

  private final Core core;

  Calls(Core core) {
    this.core = core;
  }

  List<Batcher.Outcome<String>> enqueueBatch(List<Service.EnqueueRequest> reqs, Deadline dl) {
    if (reqs.size() > Batcher.MAX_BATCH_ITEMS) {
      throw new InvalidArgumentException("EnqueueBatch", reqs.size() + " messages; at most "
          + Batcher.MAX_BATCH_ITEMS + " per call");
    }
    if (core.noBatchRpcs.get()) {
      return enqueueEach(reqs, dl);
    }
    Service.EnqueueBatchRequest req =
        Service.EnqueueBatchRequest.newBuilder().addAllMessages(reqs).build();
    Service.EnqueueBatchResponse resp;
    try {
      resp = core.invoke("EnqueueBatch", dl, (cn, d) -> cn.svc(d).enqueueBatch(req));
    } catch (FilaException e) {
      if (e.code() != Status.Code.UNIMPLEMENTED) {
        throw e;
      }
      core.noBatchRpcs.set(true);
      return enqueueEach(reqs, dl);
    }
    List<Batcher.Outcome<String>> outs = new ArrayList<>(reqs.size());
    for (int i = 0; i < reqs.size(); i++) {
      if (i >= resp.getResultsCount()) {
        outs.add(Batcher.Outcome.failed(missing("EnqueueBatch")));
        continue;
      }
      Service.EnqueueResult r = resp.getResults(i);
      outs.add(r.hasError()
          ? Batcher.Outcome.failed(
              Errors.fromItem("EnqueueBatch", r.getError().getCode(), r.getError().getMessage()))
          : Batcher.Outcome.ok(r.getMessageId()));
    }
    return outs;
  }

  /** The batcher's sender of acks: one AckBatch per queue, with the lease ids. */
  List<Batcher.Outcome<Void>> sendAcks(String queue, List<AckItem> items) {
    Deadline dl = Core.deadline(core.opts.timeout());
    if (core.noBatchRpcs.get()) {
      return ackEach(queue, items, dl);
    }
    Service.AckBatchRequest.Builder req = Service.AckBatchRequest.newBuilder().setQueue(queue);
    boolean withLeases = false;
    for (AckItem it : items) {
      req.addMessageIds(it.id());
      withLeases |= !it.leaseId().isEmpty();
    }
    if (withLeases) { // the field is optional: leave it out when no item has one
      items.forEach(it -> req.addLeaseIds(it.leaseId()));
    }
    Service.AckBatchRequest built = req.build();
    try {
      Service.AckBatchResponse resp =
          core.invoke("AckBatch", dl, (cn, d) -> cn.svc(d).ackBatch(built));
      return itemOutcomes("AckBatch", items.size(), resp.getResultsList());
    } catch (FilaException e) {
      if (e.code() != Status.Code.UNIMPLEMENTED) {
        throw e;
      }
      core.noBatchRpcs.set(true);
      return ackEach(queue, items, dl);
    }
  }

  /** The batcher's sender of nacks: one NackBatch per queue. */
  List<Batcher.Outcome<Void>> sendNacks(String queue, List<NackItem> items) {
    Deadline dl = Core.deadline(core.opts.timeout());
    if (core.noBatchRpcs.get()) {
      return nackEach(queue, items, dl);
    }
    Service.NackBatchRequest.Builder req = Service.NackBatchRequest.newBuilder().setQueue(queue);
    for (NackItem it : items) {
      req.addItems(Service.NackItem.newBuilder()
          .setMessageId(it.id()).setLeaseId(it.leaseId()).setError(it.error()));
    }
    Service.NackBatchRequest built = req.build();
    try {
      Service.NackBatchResponse resp =
          core.invoke("NackBatch", dl, (cn, d) -> cn.svc(d).nackBatch(built));
      return itemOutcomes("NackBatch", items.size(), resp.getResultsList());
    } catch (FilaException e) {
      if (e.code() != Status.Code.UNIMPLEMENTED) {
        throw e;
      }
      core.noBatchRpcs.set(true);
      return nackEach(queue, items, dl);
    }
  }

  List<ItemResult> extendLease(String queue, List<LeaseRef> leases, Duration extend,
      Deadline dl) {
    if (leases.size() > Batcher.MAX_BATCH_ITEMS) {
      throw new InvalidArgumentException("ExtendLease", leases.size() + " leases; at most "
          + Batcher.MAX_BATCH_ITEMS + " per call");
    }
    if (extend.isNegative()) {
      throw new InvalidArgumentException("ExtendLease", "extend must not be negative");
    }
    Service.ExtendLeaseRequest.Builder req = Service.ExtendLeaseRequest.newBuilder()
        .setQueue(queue).setExtendMs(extend.toMillis());
    boolean withLeases = false;
    for (LeaseRef l : leases) {
      req.addMessageIds(l.messageId());
      withLeases |= !l.leaseId().isEmpty();
    }
    if (withLeases) {
      leases.forEach(l -> req.addLeaseIds(l.leaseId()));
    }
    Service.ExtendLeaseRequest built = req.build();
    Service.ExtendLeaseResponse resp =
        core.invoke("ExtendLease", dl, (cn, d) -> cn.svc(d).extendLease(built));
    List<Batcher.Outcome<Void>> outs =
        itemOutcomes("ExtendLease", leases.size(), resp.getResultsList());
    List<ItemResult> results = new ArrayList<>(outs.size());
    for (int i = 0; i < outs.size(); i++) {
      results.add(new ItemResult(leases.get(i).messageId(), outs.get(i).error()));
    }
    return results;
  }

  private static List<Batcher.Outcome<Void>> itemOutcomes(String op, int n,
      List<Service.ItemResult> results) {
    List<Batcher.Outcome<Void>> outs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      if (i >= results.size()) {
        outs.add(Batcher.Outcome.failed(missing(op)));
      } else if (results.get(i).hasError()) {
        Service.ItemError e = results.get(i).getError();
        outs.add(Batcher.Outcome.failed(Errors.fromItem(op, e.getCode(), e.getMessage())));
      } else {
        outs.add(Batcher.Outcome.ok(null));
      }
    }
    return outs;
  }

  private static FilaException missing(String op) {
    return new FilaException(op, Status.Code.INTERNAL, "the broker sent no result for this item");
  }

  // -- the original broker: one RPC per message, several at once ------------------------------

  private List<Batcher.Outcome<String>> enqueueEach(List<Service.EnqueueRequest> reqs,
      Deadline dl) {
    return each(reqs.size(), i -> core.invoke("Enqueue", dl,
        (cn, d) -> cn.svc(d).enqueue(reqs.get(i)).getMessageId()));
  }

  private List<Batcher.Outcome<Void>> ackEach(String queue, List<AckItem> items, Deadline dl) {
    return each(items.size(), i -> {
      Service.AckRequest req = Service.AckRequest.newBuilder().setQueue(queue)
          .setMessageId(items.get(i).id()).setLeaseId(items.get(i).leaseId()).build();
      core.invoke("Ack", dl, (cn, d) -> cn.svc(d).ack(req));
      return null;
    });
  }

  private List<Batcher.Outcome<Void>> nackEach(String queue, List<NackItem> items, Deadline dl) {
    return each(items.size(), i -> {
      NackItem it = items.get(i);
      Service.NackRequest req = Service.NackRequest.newBuilder().setQueue(queue)
          .setMessageId(it.id()).setLeaseId(it.leaseId()).setError(it.error()).build();
      core.invoke("Nack", dl, (cn, d) -> cn.svc(d).nack(req));
      return null;
    });
  }

  /** Runs call(i) for every i in [0, n), up to LEGACY_CONCURRENCY at once; an outcome each. */
  private <R> List<Batcher.Outcome<R>> each(int n, IntFunction<R> call) {
    Semaphore slots = new Semaphore(LEGACY_CONCURRENCY);
    List<CompletableFuture<R>> futures = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int idx = i;
      slots.acquireUninterruptibly();
      futures.add(CompletableFuture.supplyAsync(() -> {
        try {
          return call.apply(idx);
        } finally {
          slots.release();
        }
      }, core.workers));
    }
    List<Batcher.Outcome<R>> outs = new ArrayList<>(n);
    for (CompletableFuture<R> f : futures) {
      try {
        outs.add(Batcher.Outcome.ok(f.join()));
      } catch (RuntimeException e) {
        outs.add(Batcher.Outcome.failed(Errors.from("batch", e)));
      }
    }
    return outs;
  }
}
