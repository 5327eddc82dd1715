import { InMemoryStoreForTests } from "./memory-store.ts";
import { messageStoreContract } from "./store-contract.ts";

messageStoreContract("in-memory (tests only)", {
  durable: false,
  open: async () => new InMemoryStoreForTests(),
});
