import type { Channel } from '../chat/chat.types.js';
import type { Passage } from '../knowledge/knowledge-search.js';
import type { Tenant } from '../tenants/tenant-service.js';

/** What every AI provider sees and returns; the chat engine is the only caller. */

export interface ModelMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

/** Runs the turn's tools. Arguments arrive as the model sent them and are validated inside. */
export interface ToolRunner {
  readonly specs: ToolSpec[];
  run(name: string, args: unknown): Promise<Record<string, unknown>>;
}

export interface GenerateRequest {
  tenant: Tenant;
  channel: Channel;
  conversationId: string;
  /** The system prompt (tenant data quoted inside, guardrails, channel limits). */
  system: string;
  /** The conversation's recent messages, oldest first, ending with the user's new message. */
  messages: ModelMessage[];
  tools: ToolRunner;
  /** Knowledge passages that clearly match the user's message (already quoted in `system`). */
  knowledge?: Passage[];
  signal?: AbortSignal;
  /** True when a client watches the reply arrive (SSE); false when it waits for the whole reply. */
  live?: boolean;
  onToken(text: string): void;
}

export interface GenerateResult {
  text: string;
  /** Tokens spent upstream (0 for the offline provider). */
  tokens: number;
  /** The split of `tokens` into prompt (input) and completion (output), when the upstream reports it. */
  usage?: { input: number; output: number };
}

export interface AiProvider {
  readonly name: 'openai' | 'offline';
  /** Whether earlier messages matter to it; when not, the engine skips reading them. */
  readonly usesHistory: boolean;
  generate(request: GenerateRequest): Promise<GenerateResult>;
}
