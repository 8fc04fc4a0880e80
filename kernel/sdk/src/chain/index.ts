// The chain layer: a local anvil, viem clients, idempotent writes, deployment, typed contracts, Merkle trees.
export * from "./anvil";
export * from "./clients";
export * from "./send";
export * from "./deploy";
export * from "./contracts";
export * from "./merkle";
export * from "./writes";
export * from "./permit";
