// Scores in the store's convention (see SearchHit.score), computed exactly or from usearch distances.
import type { VectorMetric } from "./types";

export function exactScore(metric: VectorMetric, a: Float32Array, b: Float32Array): number {
  if (metric === "l2") {
    let distanceSquared = 0;
    for (let i = 0; i < a.length; i++) {
      const d = a[i]! - b[i]!;
      distanceSquared += d * d;
    }
    return Math.sqrt(distanceSquared);
  }
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return metric === "dot" ? dot : dot / Math.sqrt(normA * normB);
}

/** usearch reports cos as 1 - cosine, ip as 1 - dot, l2sq as the squared distance. */
export function scoreFromDistance(metric: VectorMetric, distance: number): number {
  if (metric === "l2") return Math.sqrt(Math.max(0, distance));
  return 1 - distance;
}

/** Sorts closest first: ascending for l2 (a distance), descending otherwise (a similarity). */
export function closestFirst(metric: VectorMetric): (a: { score: number }, b: { score: number }) => number {
  return metric === "l2" ? (a, b) => a.score - b.score : (a, b) => b.score - a.score;
}
