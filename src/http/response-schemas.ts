import { z } from 'zod';

/**
 * What each JSON route answers on success, for the OpenAPI document only (responses are built by the
 * features' view functions, not parsed). Objects are open: a field added to a view is not a breaking
 * change for clients, so the document promises the fields listed, not the absence of others.
 */

const obj = <T extends z.ZodRawShape>(shape: T) => z.object(shape).loose();
const time = z.string().describe('ISO 8601 timestamp');
const nullable = <T extends z.ZodType>(s: T) => s.nullable();

export const ok = obj({ status: z.literal('ok') });
export const ready = obj({ status: z.literal('ready'), database: z.enum(['sqlite', 'pg']) });
export const home = obj({ name: z.string(), version: z.string(), description: z.string(), links: z.record(z.string(), z.string()) });

const lead = obj({ id: z.string(), email: z.string(), name: nullable(z.string()), whatsapp: nullable(z.string()) });

export const chatReply = obj({
  conversation_id: z.string(),
  reply: z.string(),
  message_id: z.string(),
  checkout_url: z.string().optional(),
  /** Pages and documents of the knowledge base the reply drew on (url null for an uploaded file). */
  sources: z.array(obj({ title: z.string(), url: nullable(z.string()) })).optional(),
  lead: lead.optional(),
});

export const operatorMessages = obj({
  messages: z.array(obj({ id: z.string(), text: z.string(), created_at: time })),
  bot_paused: z.boolean(),
});

const tenant = obj({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  whatsapp: nullable(z.string()),
  settings: z.record(z.string(), z.unknown()).describe('tenant settings; secrets appear redacted'),
  stripe: obj({ account_id: nullable(z.string()), charges_enabled: z.boolean(), details_submitted: z.boolean() }),
  created_at: time,
  updated_at: time,
});
export const tenantOne = obj({ tenant });
export const tenantUpsert = obj({ tenant, created: z.boolean() });
export const tenantList = obj({ tenants: z.array(tenant) });
export const tenantDeleted = obj({ deleted: z.string() });

export const bootstrap = obj({
  tenant: z.string(),
  name: z.string(),
  greeting: z.string(),
  branding: obj({ color: z.string(), title: z.string(), avatar_url: nullable(z.string()), position: z.string(), launcher_text: z.string() }),
  lead: obj({ form_enabled: z.boolean(), fields: z.array(obj({ name: z.string(), label: z.string(), required: z.boolean(), type: z.string() })) }),
  has_catalog: z.boolean(),
  has_plans: z.boolean(),
  handoff: obj({ enabled: z.boolean(), operator_label: z.string() }),
});

export const catalogPage = obj({
  tenant: z.string(),
  total: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  fetched_at: nullable(time),
  items: z.array(
    obj({
      id: z.string(),
      name: z.string(),
      description: nullable(z.string()).optional(),
      price: nullable(z.number()).describe('minor units (cents)'),
      currency: nullable(z.string()),
      url: nullable(z.string()).optional(),
      image: nullable(z.string()).optional(),
      available: z.boolean().optional(),
      stock: nullable(z.number()).optional(),
      price_text: z.string(),
      score: z.number().optional(),
    }),
  ),
  next_cursor: nullable(z.string()),
});

export const leadUpsert = obj({ lead, created: z.boolean() });
/** The public form's answer: what the visitor submitted, the same for a known and a new email. */
export const leadReceived = obj({ received: z.literal(true), lead: obj({ name: nullable(z.string()), email: z.string(), whatsapp: nullable(z.string()) }) });
/** A provider send as operators see it (a reply in doubt, or one resent by hand). */
export const sendOne = obj({ id: z.string(), channel: z.string(), status: z.string(), resends: z.number().int(), to: nullable(z.string()), conversation_id: nullable(z.string()) });
export const resent = obj({ send: sendOne, provider_message_id: nullable(z.string()) });
export const leadPage = obj({
  leads: z.array(
    obj({ id: z.string(), tenant: z.string(), name: nullable(z.string()), email: z.string(), whatsapp: nullable(z.string()), source_channel: z.string(), conversation_id: nullable(z.string()), created_at: time }),
  ),
  next_cursor: nullable(z.string()),
});

export const webhookAck = obj({ received: z.number().int(), accepted: z.number().int(), duplicates: z.number().int(), ignored: z.number().int() });
export const stripeAck = obj({ received: z.literal(true), duplicate: z.boolean() });

const delivery = obj({
  id: z.string(),
  provider: z.string(),
  external_id: z.string(),
  tenant_id: nullable(z.string()),
  kind: nullable(z.string()),
  status: z.string(),
  attempts: z.number().int(),
  duplicates: z.number().int(),
  last_error: nullable(z.string()),
  processed_at: nullable(time),
  created_at: time,
  updated_at: time,
});
export const deliveryList = obj({ deliveries: z.array(delivery), counts: z.record(z.string(), z.number()), sends_in_doubt: z.array(sendOne).optional() });
export const deliveryOne = obj({ delivery });
export const simulation = obj({ provider: z.string(), url: z.string(), external_id: z.string(), status: z.number().int(), ok: z.boolean(), response: z.unknown() });
export const deadJobs = obj({
  backend: z.enum(['sqlite', 'graphile-worker']),
  jobs: z.array(obj({ id: z.string(), kind: z.string(), attempts: z.number().int(), last_error: nullable(z.string()), payload: z.record(z.string(), z.unknown()) })),
});
export const requeued = obj({ requeued: z.string() });

export const events = obj({
  events: z.array(obj({ id: z.string(), type: z.string(), conversation_id: nullable(z.string()), data: z.unknown(), created_at: time })),
});
const funnel = z.array(obj({ step: z.string(), count: z.number().int(), rate: nullable(z.number()) }));
const period = obj({ from: time, to: time });
const CHANGE = {
  count: 'relative, (value − previous) / previous (0.5 = +50%); null when previous is 0',
  share: 'value − previous (0.1 = ten percentage points); null when either is null',
};
const metric = (what: string, kind: keyof typeof CHANGE) =>
  obj({ value: nullable(z.number()), previous: nullable(z.number()), change: nullable(z.number()) }).describe(`${what}; change: ${CHANGE[kind]}`);
const outcomeFigures = obj({
  conversations: metric('conversations started in the period', 'count'),
  resolved_by_bot: metric('share (0..1) with no handoff requested and no operator reply; null without conversations', 'share'),
  handoff_rate: metric('share (0..1) with a handoff requested', 'share'),
  lead_capture_rate: metric('share (0..1) with a new lead captured', 'share'),
  checkout_conversations: metric('those with a checkout created', 'count'),
  paid_conversations: metric('those with a checkout and a payment completed', 'count'),
  checkout_conversion: metric('share (0..1): paid_conversations / checkout_conversations', 'share'),
  paid_revenue: z.record(z.string(), metric('minor units of the orders paid in the period', 'count')).describe('per lower-case ISO 4217 currency, never summed across currencies; the total also has checkouts made outside a conversation'),
});
const outcomes = obj({
  period,
  previous: period.describe('the period of the same length just before'),
  total: outcomeFigures,
  by_channel: z.record(z.string(), outcomeFigures).describe('web, messenger, instagram, whatsapp, fb_comment, ig_comment'),
}).describe('what became of the conversations started in the period, judged by what happened in them before it ended, beside the previous period');
export const analytics = obj({
  tenant: z.string(),
  from: time,
  to: time,
  interval: z.enum(['hour', 'day', 'week']),
  totals: z.record(z.string(), z.number()),
  series: z.array(obj({ bucket: z.string(), counts: z.record(z.string(), z.number()) })),
  funnels: obj({ sales: funnel, comments: funnel }),
  handoff: obj({
    requests: z.number().int(),
    first_human_reply: obj({ answered: z.number().int(), unanswered: z.number().int(), p50_seconds: nullable(z.number()), p90_seconds: nullable(z.number()) }),
    conversations: obj({ total: z.number().int(), bot_only: z.number().int(), with_human: z.number().int() }),
  }),
  outcomes,
});

export const keyCreated = obj({ key: z.string().describe('shown once; only a hash is stored'), id: z.string(), prefix: z.string(), name: z.string(), created_at: time });
export const keyList = obj({
  keys: z.array(obj({ id: z.string(), tenantId: z.string(), name: z.string(), prefix: z.string(), createdAt: time, lastUsedAt: nullable(time), revokedAt: nullable(time) })),
});
export const keyRevoked = obj({ revoked: z.string() });

const conversation = obj({
  id: z.string(),
  tenant_id: z.string(),
  channel: z.string(),
  external_user_id: z.string(),
  user_name: nullable(z.string()),
  bot_paused: z.boolean(),
  handoff_requested_at: nullable(time).describe('when the customer asked for a person, while they wait for one'),
  last_inbound_at: nullable(time),
  created_at: time,
  updated_at: time,
});
export const conversationPage = obj({ conversations: z.array(conversation), next_cursor: nullable(z.string()) });
export const conversationOne = obj({ conversation });
export const conversationShow = obj({
  conversation,
  tenant: z.string(),
  messages: z.array(obj({ id: z.string(), role: z.string(), author: z.enum(['customer', 'bot', 'operator', 'system']).describe('who said it'), text: z.string(), delivery_status: nullable(z.string()), error_code: nullable(z.string()), created_at: time })),
});
export const operatorReply = obj({ message_id: z.string(), conversation_id: z.string(), channel: z.string(), delivery: z.enum(['queued', 'stored']) });

export const onboarding = obj({
  tenant: z.string(),
  account_id: z.string(),
  url: z.string(),
  expires_at: nullable(time),
  account_created: z.boolean(),
  charges_enabled: z.boolean(),
  details_submitted: z.boolean(),
});
export const checkoutLink = obj({
  url: z.string(),
  order_id: z.string(),
  session_id: z.string(),
  kind: z.enum(['plan', 'item']),
  name: z.string(),
  amount: z.number().int().describe('minor units (cents)'),
  currency: z.string(),
  quantity: z.number().int(),
});
export const checkoutSent = checkoutLink.extend({ to: z.string(), message_id: z.string() });

const knowledgeSourceView = obj({
  id: z.string(),
  kind: z.enum(['page', 'sitemap', 'crawl', 'file']),
  location: z.string(),
  status: z.enum(['pending', 'syncing', 'ready', 'failed']),
  max_pages: z.number().int(),
  sync_interval_hours: nullable(z.number()),
  page_count: z.number().int(),
  chunk_count: z.number().int(),
  synced_at: nullable(time),
  next_sync_at: nullable(time),
  last_error: nullable(z.string()),
  created_at: time,
});
const pageProblem = obj({ url: z.string(), reason: z.string() });
export const knowledgeSources = obj({ sources: z.array(knowledgeSourceView) });
export const knowledgeSource = obj({ source: knowledgeSourceView });
export const knowledgeSync = obj({
  source: knowledgeSourceView,
  indexed: z.number().int(),
  unchanged: z.number().int(),
  removed: z.number().int(),
  skipped: z.array(pageProblem),
  failed: z.array(pageProblem),
  error: z.string().optional(),
});
export const knowledgeSourceDetail = obj({
  source: knowledgeSourceView,
  documents: z.array(obj({ url: z.string(), title: z.string(), status: z.enum(['indexed', 'skipped']), skip_reason: nullable(z.string()), chunk_count: z.number().int() })),
});
export const knowledgeSearch = obj({
  passages: z.array(
    obj({
      title: z.string(),
      url: nullable(z.string()),
      location: z.string(),
      heading: z.string(),
      text: z.string(),
      score: z.number(),
      coverage: z.number(),
      clear: z.boolean(),
      flagged: z.boolean(),
      in_prompt: z.boolean(),
    }),
  ),
});
export const knowledgeDeleted = obj({ deleted: z.string() });

export const auditPage = obj({
  entries: z.array(
    obj({
      id: z.string(),
      at: time,
      tenant_id: nullable(z.string()),
      tenant_slug: nullable(z.string()),
      actor_kind: z.enum(['admin', 'tenant-key', 'cli']),
      actor: z.string().describe("`admin`, the scoped key's id, or `cli:<os user>`"),
      ip: nullable(z.string()),
      request_id: nullable(z.string()),
      action: z.string().describe('tenant.created, tenant.updated, key.revoked, leads.exported …'),
      target: nullable(z.string()),
      details: z.record(z.string(), z.unknown()).describe('names, ids and counts: never a setting value or a secret'),
    }),
  ),
  next_cursor: nullable(z.string()).describe('the `before` of the next (older) page'),
});
