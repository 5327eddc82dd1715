import { InMemoryStoreForTests } from "./memory-store.ts";
import { messageStoreContract } from "./testing/store-contract.ts";

messageStoreContract("in-memory (tests only)", {
  durable: false,
  open: async () => new InMemoryStoreForTests(),
});
