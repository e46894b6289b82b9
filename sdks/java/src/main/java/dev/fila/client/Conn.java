package dev.fila.client;

import fila.v1.FilaAdminGrpc;
import fila.v1.FilaServiceGrpc;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;

/** One gRPC channel to one broker address, and its stubs. */
record Conn(
    String addr,
    ManagedChannel channel,
    FilaServiceGrpc.FilaServiceBlockingStub svc,
    FilaServiceGrpc.FilaServiceStub svcAsync,
    FilaAdminGrpc.FilaAdminBlockingStub admin) {

  static Conn of(String addr, ManagedChannel channel) {
    return new Conn(addr, channel, FilaServiceGrpc.newBlockingStub(channel),
        FilaServiceGrpc.newStub(channel), FilaAdminGrpc.newBlockingStub(channel));
  }

  /** The blocking hot-path stub with a call's deadline (null: none). */
  FilaServiceGrpc.FilaServiceBlockingStub svc(Deadline deadline) {
    return deadline == null ? svc : svc.withDeadline(deadline);
  }

  /** The blocking admin stub with a call's deadline (null: none). */
  FilaAdminGrpc.FilaAdminBlockingStub admin(Deadline deadline) {
    return deadline == null ? admin : admin.withDeadline(deadline);
  }
}
