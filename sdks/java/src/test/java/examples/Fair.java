// Fair scheduling: acme floods the queue, globex and initech send a few messages each, and
// one consumer still sees the three tenants take turns.
package examples;

import dev.fila.client.AlreadyExistsException;
import dev.fila.client.Consumer;
import dev.fila.client.EnqueueResult;
import dev.fila.client.FilaClient;
import dev.fila.client.Message;
import dev.fila.client.OutgoingMessage;
import dev.fila.client.QueueConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class Fair {
  public static void main(String[] args) {
    String addr = System.getenv().getOrDefault("FILA_ADDR", "127.0.0.1:5555");
    try (FilaClient fila = FilaClient.builder(addr).build()) {
      String hook = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end";
      try {
        fila.createQueue("fair-demo", QueueConfig.builder().onEnqueueScript(hook).build());
      } catch (AlreadyExistsException e) {
        // made by an earlier run
      }

      // acme sends 8 messages first, then globex and initech 3 each
      String tenants = "acme ".repeat(8) + "globex ".repeat(3) + "initech ".repeat(3);
      List<OutgoingMessage> msgs = new ArrayList<>();
      for (String tenant : tenants.strip().split(" ")) {
        msgs.add(OutgoingMessage.of("fair-demo", new byte[0], Map.of("tenant", tenant)));
      }
      fila.enqueueBatch(msgs).forEach(EnqueueResult::orThrow);

      List<String> order = new ArrayList<>();
      try (Consumer consumer = fila.lease("fair-demo")) { // one consumer takes all 14
        while (order.size() < msgs.size()) {
          Message msg = consumer.next();
          order.add(msg.fairnessKey());
          msg.ack();
        }
      }
      System.out.println(String.join(" ", order));
    }
  }
}
