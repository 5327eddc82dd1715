import { EventEmitter } from "node:events";
import { type Discovery, type DiscoveryEvents, type GatewayEndpoint, parseEndpoints } from "./discovery.ts";

/**
 * A fixed set of gateways (flag `--gateways=a:1,b:2`). It never changes after
 * start, which is what local runs and tests with known ports want.
 */
export class StaticDiscovery extends EventEmitter<DiscoveryEvents> implements Discovery {
  readonly #initial: readonly GatewayEndpoint[];
  #current: readonly GatewayEndpoint[] = [];

  /** Throws when an entry is not `host:port`, a URL, or `id=address`. */
  constructor(entries: readonly string[]) {
    super();
    this.#initial = Object.freeze(parseEndpoints(entries));
  }

  async start(): Promise<void> {
    this.#current = this.#initial;
    if (this.#current.length > 0) this.emit("change", this.#current);
  }

  async stop(): Promise<void> {}

  endpoints(): readonly GatewayEndpoint[] {
    return this.#current;
  }
}
