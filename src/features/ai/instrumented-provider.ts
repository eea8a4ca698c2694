import { AppError, RateLimitError, UpstreamError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { AiProvider, GenerateRequest, GenerateResult } from './provider.js';

/**
 * Observes any AI provider at its interface, so every provider is measured the same way and none of
 * them carries metrics code: call latency, time to first token, tokens in and out, errors by class.
 */
export class InstrumentedProvider implements AiProvider {
  readonly name: AiProvider['name'];
  readonly usesHistory: boolean;

  constructor(
    private readonly inner: AiProvider,
    private readonly metrics: Pick<Metrics, 'aiDuration' | 'aiFirstToken' | 'aiTokens' | 'aiErrors'>,
  ) {
    this.name = inner.name;
    this.usesHistory = inner.usesHistory;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const provider = this.name;
    const started = performance.now();
    let first = true;
    const onToken = request.onToken;
    const observed: GenerateRequest = {
      ...request,
      onToken: (text) => {
        if (first) {
          first = false;
          this.metrics.aiFirstToken.observe({ provider }, (performance.now() - started) / 1000);
        }
        onToken(text);
      },
    };
    try {
      const result = await this.inner.generate(observed);
      this.metrics.aiDuration.observe({ provider, outcome: 'ok' }, (performance.now() - started) / 1000);
      if (result.usage) {
        this.metrics.aiTokens.inc({ provider, direction: 'in' }, result.usage.input);
        this.metrics.aiTokens.inc({ provider, direction: 'out' }, result.usage.output);
      }
      return result;
    } catch (err) {
      // A client that went away is not a provider failure.
      const outcome = request.signal?.aborted ? 'aborted' : 'error';
      this.metrics.aiDuration.observe({ provider, outcome }, (performance.now() - started) / 1000);
      if (outcome === 'error') this.metrics.aiErrors.inc({ provider, class: errorClass(err) });
      throw err;
    }
  }
}

/** A small, fixed set of classes (bounded label values), from the errors providers raise. */
export function errorClass(err: unknown): string {
  if (err instanceof RateLimitError) return 'rate_limited';
  if (err instanceof UpstreamError) {
    const status = (err.details as { status?: unknown } | undefined)?.status;
    if (status === 429) return 'rate_limited';
    if (typeof status === 'number') return status >= 500 ? 'upstream_5xx' : 'upstream_4xx';
    if (/did not answer within/.test(err.message)) return 'timeout';
    if (/could not be reached/.test(err.message)) return 'unreachable';
    return 'upstream';
  }
  if (err instanceof AppError) return err.code;
  return 'internal';
}
