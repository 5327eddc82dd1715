/** A tiny typed event emitter: the SDK's only dependency-free way to talk back. */
export type Listener<A> = (arg: A) => void;

export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let list = this.listeners[event];
    if (!list) {
      list = [];
      this.listeners[event] = list;
    }
    list.push(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const list = this.listeners[event];
    if (!list) return;
    const i = list.indexOf(listener);
    if (i !== -1) list.splice(i, 1);
  }

  protected emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    const list = this.listeners[event];
    if (!list) return;
    for (const l of [...list]) {
      try {
        l(arg);
      } catch (err) {
        // A listener's bug must not break the connection state machine.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
