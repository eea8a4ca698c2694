/**
 * What a model's tokens cost, to estimate a run's spend: US dollars per million input and output
 * tokens. The built-in table holds OpenAI's list prices for its common chat models; ZIA_MODEL_PRICES
 * adds other models (a local server's are free: {"llama3.1":{"input":0,"output":0}}) or corrects these.
 */

export interface ModelPrice {
  input: number;
  output: number;
}

const LIST_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
};

/** Estimated US dollars for these tokens; null when no price is known for the model. */
export function estimateCost(model: string, tokens: { input: number; output: number }, overrides: Record<string, ModelPrice> = {}): number | null {
  const price = Object.hasOwn(overrides, model) ? overrides[model] : Object.hasOwn(LIST_PRICES, model) ? LIST_PRICES[model] : undefined;
  if (!price) return null;
  return (tokens.input * price.input + tokens.output * price.output) / 1_000_000;
}
