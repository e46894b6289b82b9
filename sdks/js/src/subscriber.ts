/**
 * The handler form of consuming: `client.subscribe(queue, async (msg) => {...})`.
 * A handler that resolves acks its message; one that throws nacks it with the error's text.
 * At most `credit` handlers run at once (the stream holds no more than that).
 */
import type { LeasedMessage, LeaseOptions, LeaseStream } from "./lease.js";
import { errorText } from "./lease.js";

export type Handler = (msg: LeasedMessage) => unknown;

export interface SubscribeOptions extends LeaseOptions {
  /**
   * Told of what the subscription could not do for a message: an ack or nack the broker
   * refused or could not be sent (the message will be delivered again). Default: a process
   * warning.
   */
  onError?: (err: unknown, msg: LeasedMessage) => void;
}

function warn(err: unknown, msg: LeasedMessage): void {
  process.emitWarning(`fila: message ${msg.id}: ${errorText(err)}`, { type: "FilaWarning" });
}

export class Subscription {
  /**
   * Resolves when the subscription has stopped (after `close()`, with every handler done and
   * its ack or nack answered); rejects if the stream ended with an error it cannot recover
   * from (the queue was deleted, the key lost its permission, ...).
   */
  readonly done: Promise<void>;
  private readonly running = new Set<Promise<void>>();
  private readonly onError: (err: unknown, msg: LeasedMessage) => void;

  /** @internal use `client.subscribe()` */
  constructor(private readonly stream: LeaseStream, private readonly handler: Handler,
              opts: SubscribeOptions = {}) {
    this.onError = opts.onError ?? warn;
    this.done = this.loop();
    this.done.catch(() => undefined); // awaited by whoever wants it; never unhandled
  }

  /** Handlers running now. */
  get active(): number {
    return this.running.size;
  }

  /** Stop taking messages; resolves once running handlers are done and answered. */
  async close(): Promise<void> {
    await this.stream.close();
    await this.done.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    try {
      for await (const msg of this.stream) this.start(msg);
    } finally {
      while (this.running.size) await Promise.allSettled([...this.running]);
    }
  }

  private start(msg: LeasedMessage): void {
    const run = this.handle(msg);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private async handle(msg: LeasedMessage): Promise<void> {
    let failure: unknown;
    let failed = false;
    try {
      await this.handler(msg);
    } catch (e) {
      failed = true;
      failure = e;
    }
    try {
      if (failed) await msg.nack(failure);
      else await msg.ack();
    } catch (e) {
      this.onError(e, msg);
    }
  }
}
