export { MAX_MESSAGE_ID_LENGTH, MAX_ROOM_BYTES, messageIdProblem, roomProblem } from "./input-checks.ts";
// Implementations, for tests and tools that need a specific one.
export { JetStreamStore, type JetStreamStoreOptions } from "./jetstream-store.ts";
export type {
  AppendInput,
  AppendResult,
  MessageStore,
  ReadOptions,
  ReadResult,
  StoredMessage,
  StoreKind,
} from "./message-store.ts";
export type { StoreConfig } from "./open-store.ts";
export { openStore } from "./open-store.ts";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.ts";
export { STORE_ERROR_CODES, StoreError, type StoreErrorCode } from "./store-error.ts";
