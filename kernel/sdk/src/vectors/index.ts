import { EmbeddedVectorStore } from "./embedded";
import { QdrantVectorStore } from "./qdrant";
import type { VectorStore, VectorStoreConfig } from "./types";

export * from "./types";

/** Opens the vector store the configuration names. */
export function createVectorStore(config: VectorStoreConfig): Promise<VectorStore> {
  return config.kind === "embedded" ? EmbeddedVectorStore.open(config.dir) : QdrantVectorStore.open(config.url, config.apiKey);
}
