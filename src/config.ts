import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The one place configuration is read. Every variable is listed here with its default; an invalid
 * configuration is reported as one error listing every problem, so an operator fixes them in one go.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(z.url().optional());

const port = z.coerce.number().int().min(0).max(65535);

/** `{"model": {"input": 0.15, "output": 0.6}}`: US dollars per million tokens, over the built-in table. */
const modelPrices = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON, e.g. {"gpt-4o-mini":{"input":0.15,"output":0.6}}' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string().min(1), z.strictObject({ input: z.number().min(0), output: z.number().min(0) })).optional());

const schema = z.object({
  PORT: port.default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: optionalString.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    'must start with postgres:// or postgresql:// (leave unset for the embedded SQLite database)',
  ),
  ZIA_DATA_DIR: z.string().min(1).default('./data'),
  ADMIN_KEY: optionalString.refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
  ZIA_SECRET_KEY: optionalString.refine((v) => v === undefined || decodeKey(v) !== undefined, {
    message: 'must be 32 bytes as 64 hex characters or base64 (zia init generates one)',
  }),
  ZIA_SECRET_KEY_PREVIOUS: optionalString.refine(
    (v) => v === undefined || v.split(',').every((k) => decodeKey(k.trim()) !== undefined),
    'must be a comma-separated list of 32-byte keys (hex or base64)',
  ),
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim().replace(/\/$/, '')).filter(Boolean)),
  SITE_URL: z
    .url()
    .default('http://localhost:8000')
    .transform((v) => v.replace(/\/+$/, '')),
  TRUST_PROXY: optionalString,
  USE_MOCK: bool.default(false),
  OPENAI_API_KEY: optionalString,
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  OPENAI_MAX_TOKENS: z.coerce.number().int().min(16).default(800),
  OPENAI_RETRY_AFTER_MAX_MS: z.coerce.number().int().min(0).default(30_000),
  OPENAI_TOOLS: z.enum(['auto', 'off']).default('auto'),
  OPENAI_MAX_TOKENS_PARAM: z.enum(['max_completion_tokens', 'max_tokens']).default('max_completion_tokens'),
  /** An embeddings model on the same server: knowledge search then ranks by meaning as well as words. */
  OPENAI_EMBEDDINGS_MODEL: optionalString,
  ZIA_MODEL_PRICES: modelPrices,
  // The usual proxy variables, upper or lower case (the upper-case one wins), for the AI provider's requests.
  HTTPS_PROXY: optionalUrl,
  https_proxy: optionalUrl,
  HTTP_PROXY: optionalUrl,
  http_proxy: optionalUrl,
  NO_PROXY: optionalString,
  no_proxy: optionalString,
  META_VERIFY_TOKEN: optionalString,
  META_APP_SECRET: optionalString,
  /** The Meta app's id: lets zia webhooks check read the app's subscribed WhatsApp webhook fields. */
  META_APP_ID: optionalString.pipe(z.string().regex(/^\d{1,32}$/, 'digits only').optional()),
  META_GRAPH_URL: z.url().default('https://graph.facebook.com').transform((v) => v.replace(/\/+$/, '')),
  META_GRAPH_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v23.0').default('v23.0'),
  TWILIO_ACCOUNT_SID: optionalString,
  TWILIO_AUTH_TOKEN: optionalString,
  TWILIO_WHATSAPP_FROM: optionalString,
  TWILIO_API_URL: optionalUrl,
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  STRIPE_CONNECT_WEBHOOK_SECRET: optionalString,
  STRIPE_API_URL: optionalUrl.refine(
    (v) => v === undefined || /^https?:\/\/[^/?#]+\/?$/.test(v),
    'must be http(s)://host[:port] with no path (the Stripe SDK takes host, port and protocol only)',
  ),
  ZIA_PLATFORM_FEE_PERCENT: z.coerce.number().min(0).max(100).default(0),
  ZIA_CATALOG_ALLOW_PRIVATE: bool.default(false),
  ZIA_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(64),
  /** Most jobs of one tenant running at once across every worker (the tenant's `job_concurrency` overrides it). */
  ZIA_TENANT_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(32),
  ZIA_JOB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  ZIA_JOB_BACKOFF_MS: z.coerce.number().int().min(10).max(3_600_000).default(2_000),
  /** A reply whose send was in flight at a crash (or got no answer): sent once more, or held for an operator. */
  ZIA_UNCERTAIN_SENDS: z.enum(['resend', 'hold']).default('resend'),
  ZIA_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  ZIA_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  ZIA_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  ZIA_MAX_CONNECTIONS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  ZIA_METRICS_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
  ZIA_METRICS_PORT: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), port.optional()),
  ZIA_METRICS_HOST: optionalString,
  ZIA_DRAIN_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  ZIA_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(8_000),
});

/** Every variable the schema reads, for the operator-facing lists kept beside it (.env.example, compose). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export type Config = z.output<typeof schema> & {
  /** Derived: which database engine DATABASE_URL selects. */
  dbClient: 'sqlite' | 'pg';
  /** Derived: the absolute path of the SQLite file (embedded mode). */
  sqlitePath: string;
  /** Derived: the decoded encryption keys, current first. */
  secretKeys: Buffer[];
  /** Derived: which AI provider answers. */
  aiProvider: 'openai' | 'offline';
  /** Derived: the proxies for outgoing AI requests (either case of each variable). */
  proxy: ProxySettings;
};

export interface ProxySettings {
  http?: string;
  https?: string;
  /** Comma- or space-separated hosts, domains (`.example.com`), `host:port`, or `*`. */
  noProxy?: string;
}

/** Variables that may be given as `NAME_FILE=/path` (Docker/Kubernetes secrets). */
export const FILE_VARIABLES = [
  'DATABASE_URL',
  'ADMIN_KEY',
  'ZIA_SECRET_KEY',
  'ZIA_SECRET_KEY_PREVIOUS',
  'OPENAI_API_KEY',
  'META_VERIFY_TOKEN',
  'META_APP_SECRET',
  'TWILIO_AUTH_TOKEN',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'STRIPE_CONNECT_WEBHOOK_SECRET',
  'ZIA_METRICS_TOKEN',
] as const;

export { ConfigError } from './errors.js';

export function decodeKey(value: string): Buffer | undefined {
  const v = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(v)) {
    const buf = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (buf.length === 32) return buf;
  }
  return undefined;
}

/** Reads `.env` from cwd without touching process.env; real environment variables win. */
export function readEnv(env: NodeJS.ProcessEnv, cwd: string): Record<string, string | undefined> {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseDotenv(readFileSync(path.join(cwd, '.env')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { ...fromFile, ...env };
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Config {
  const raw = readEnv(env, cwd);
  const problems: string[] = [];
  for (const name of FILE_VARIABLES) {
    const file = raw[`${name}_FILE`];
    if (!file) continue;
    if (raw[name]) {
      problems.push(`${name} and ${name}_FILE are both set; keep one`);
      continue;
    }
    try {
      raw[name] = readFileSync(path.resolve(cwd, file), 'utf8').trim();
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  // Node refuses a headers timeout longer than the request timeout it is part of.
  if (parsed.success && parsed.data.ZIA_HEADERS_TIMEOUT_MS > parsed.data.ZIA_REQUEST_TIMEOUT_MS) {
    problems.push('ZIA_HEADERS_TIMEOUT_MS: must not be longer than ZIA_REQUEST_TIMEOUT_MS');
  }
  if (parsed.success && parsed.data.OPENAI_EMBEDDINGS_MODEL && !parsed.data.OPENAI_API_KEY && !parsed.data.OPENAI_BASE_URL) {
    problems.push('OPENAI_EMBEDDINGS_MODEL: needs OPENAI_API_KEY or OPENAI_BASE_URL (the server that makes the embeddings)');
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const c = parsed.data;
  const secretKeys = [c.ZIA_SECRET_KEY, ...(c.ZIA_SECRET_KEY_PREVIOUS?.split(',') ?? [])]
    .filter((k): k is string => Boolean(k))
    .map((k) => decodeKey(k)!);
  return {
    ...c,
    dbClient: c.DATABASE_URL ? 'pg' : 'sqlite',
    sqlitePath: path.resolve(cwd, c.ZIA_DATA_DIR, 'zia.sqlite'),
    secretKeys,
    // A local server (Ollama, llama.cpp…) needs no key: a base URL alone selects the openai provider.
    aiProvider: (c.OPENAI_API_KEY || c.OPENAI_BASE_URL) && !c.USE_MOCK ? 'openai' : 'offline',
    proxy: { http: c.HTTP_PROXY ?? c.http_proxy, https: c.HTTPS_PROXY ?? c.https_proxy, noProxy: c.NO_PROXY ?? c.no_proxy },
  };
}
