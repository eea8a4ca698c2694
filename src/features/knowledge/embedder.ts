import type OpenAI from 'openai';

/** Turns texts into vectors of unit length (so a dot product is their cosine). */
export interface Embedder {
  readonly model: string;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** Texts per request: well under every OpenAI-compatible server's batch limit. */
export const EMBED_BATCH = 32;

/**
 * Embeddings from any OpenAI-compatible `/embeddings` endpoint (OPENAI_EMBEDDINGS_MODEL), through the
 * same SDK client, key and base URL as the chat model.
 */
export class OpenAiEmbedder implements Embedder {
  constructor(
    readonly model: string,
    private readonly client: () => Promise<OpenAI>,
  ) {}

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const client = await this.client();
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += EMBED_BATCH) {
      const part = texts.slice(i, i + EMBED_BATCH);
      const res = await client.embeddings.create({ model: this.model, input: part, encoding_format: 'float' });
      const byIndex = [...res.data].sort((a, b) => a.index - b.index);
      if (byIndex.length !== part.length) throw new Error(`the embeddings server returned ${byIndex.length} vectors for ${part.length} texts`);
      for (const d of byIndex) out.push(unit(Float32Array.from(d.embedding)));
    }
    return out;
  }
}

export function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
