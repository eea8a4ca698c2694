import { z } from 'zod';
import { ulidSchema } from '../../validation.js';
import { parseRange, validTimeZone, WEEKDAYS } from '../handoff/handoff-policy.js';

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
export const slugSchema = z
  .string()
  .regex(SLUG, 'lowercase letters, digits and hyphens, 1-64 characters, not starting or ending with a hyphen');

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number such as +4791234567');
const whatsappAddress = z
  .string()
  .transform((v) => v.replace(/^whatsapp:/, ''))
  .pipe(e164);

/** A Graph API node id: digits only. */
const graphId = z.string().regex(/^\d{1,32}$/, 'digits only');

const faqItem = z
  .union([
    z.strictObject({ q: z.string().min(1).max(1000), a: z.string().min(1).max(4000) }),
    z.strictObject({ question: z.string().min(1).max(1000), answer: z.string().min(1).max(4000) }),
  ])
  .transform((f) => ('q' in f ? f : { q: f.question, a: f.answer }));

const plan = z
  .strictObject({
    id: z.string().min(1).max(64).regex(/^[\w.-]+$/, 'letters, digits, dot, dash, underscore'),
    name: z.string().min(1).max(200),
    description: z.string().max(1000).optional(),
    price_id: z.string().startsWith('price_').optional(),
    amount: z.number().int().positive().optional().describe('minor units, e.g. cents'),
    currency: z.string().length(3).toLowerCase().optional(),
    interval: z.enum(['day', 'week', 'month', 'year']).optional(),
  })
  .refine((p) => p.price_id !== undefined || (p.amount !== undefined && p.currency !== undefined && p.interval !== undefined), {
    message: 'a plan needs either price_id or amount + currency + interval',
  });

/** Links a browser opens or zia fetches: http(s) only (javascript:, data:, file:, gopher: … are refused). */
const webUrl = z.url({ protocol: /^https?$/, message: 'an http(s) URL' }).max(2000);

const origin = z
  .string()
  .regex(/^https?:\/\/[^/\s]+$/, 'an origin such as https://shop.example.com (scheme and host, no path)');

const hourRange = z.string().refine((r) => parseRange(r) !== undefined, 'a range such as 09:00-17:00 (24-hour clock, end after start)');
const weeklyHours = z.partialRecord(z.enum(WEEKDAYS), z.array(hourRange).max(8));

/** Tenant settings: every known key. Unknown keys are refused, naming the key. */
export const settingsSchema = z.strictObject({
  tone: z.string().max(500).optional(),
  policies: z.string().max(20_000).optional(),
  faq: z.array(faqItem).max(500).optional(),
  greeting: z.string().max(500).optional(),
  locale: z.string().min(2).max(35).optional(),
  /** IANA zone of the business (Europe/Oslo): its opening hours are read in it. */
  time_zone: z.string().max(64).refine(validTimeZone, 'an IANA time zone such as Europe/Oslo').optional(),
  /** Customers asking for a person (see HandoffService): off unless enabled. */
  handoff: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** When the team answers, per weekday in time_zone; none: always. */
      hours: weeklyHours.optional(),
      /** Told to the customer in hours. */
      message: z.string().min(1).max(500).optional(),
      /** Told outside hours; {next} becomes when someone will answer ("tomorrow at 09:00"). */
      away_message: z.string().min(1).max(500).optional(),
      /** Outside hours the bot keeps answering while the customer waits. */
      bot_while_waiting: z.boolean().optional(),
      /** More phrases that ask for a person, besides the built-in ones. */
      keywords: z.array(z.string().trim().min(2).max(60)).max(50).optional(),
      /** How an operator's messages are labelled to the customer and the model ("Team" by default). */
      operator_label: z.string().min(1).max(40).optional(),
    })
    .optional(),
  /** Limits of the tenant's knowledge base (see KnowledgeService); the operator's, not the tenant's. */
  knowledge: z
    .strictObject({
      /** Pages across all of the tenant's sources. */
      max_pages: z.number().int().min(1).max(10_000).optional(),
      /** A page or file larger than this is skipped, with the reason. */
      max_page_kb: z.number().int().min(16).max(20_480).optional(),
      /** Default hours between re-syncs of a new source (0: only when asked). */
      sync_hours: z.number().min(0).max(24 * 90).optional(),
    })
    .optional(),
  currency: z.string().length(3).toLowerCase().optional(),
  catalog_url: webUrl.optional(),
  catalog_ttl_seconds: z.number().int().min(10).max(86_400).optional(),
  branding: z
    .strictObject({
      color: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour such as #1a73e8').optional(),
      title: z.string().max(100).optional(),
      avatar_url: webUrl.optional(),
      position: z.enum(['bottom-right', 'bottom-left']).optional(),
      launcher_text: z.string().max(40).optional(),
    })
    .optional(),
  lead: z
    .strictObject({
      mode: z.enum(['off', 'first_message', 'intent']).optional(),
      form_enabled: z.boolean().optional(),
      ask_whatsapp: z.boolean().optional(),
    })
    .optional(),
  plans: z.array(plan).max(50).optional(),
  comments: z
    .strictObject({
      public_reply: z.boolean().optional(),
      private_reply: z.boolean().optional(),
      public_reply_text: z.string().max(300).optional(),
      keywords: z.array(z.string().min(1).max(50)).max(50).optional(),
    })
    .optional(),
  allowed_origins: z.array(origin).max(50).optional(),
  memory_messages: z.number().int().min(1).max(50).optional(),
  daily_token_quota: z.number().int().min(0).optional(),
  /** Monthly caps; past one the offline assistant (or over_cap_message) answers until the month ends. */
  limits: z
    .strictObject({
      /** Customer messages a month answered by the model. */
      monthly_messages: z.number().int().min(1).optional(),
      /** Estimated model cost a month, in US dollars (the model price table's currency). */
      monthly_model_cost: z.number().positive().optional(),
      /** What the bot says past a cap instead of the offline assistant's answer. */
      over_cap_message: z.string().trim().min(1).max(1000).optional(),
    })
    .optional(),
  /** `off`: the model gets no tools for this tenant (as OPENAI_TOOLS=off does for all). */
  ai_tools: z.enum(['auto', 'off']).optional(),
  rate_limit_per_minute: z.number().int().min(0).max(10_000).optional(),
  /** Most of this tenant's background jobs (replies, sends, webhooks) running at once across every worker. */
  job_concurrency: z.number().int().min(1).max(1024).optional(),
  /** Conversations (and their messages) silent for more days than this are deleted (see RetentionService). */
  retention_days: z.number().int().min(1).max(36_500).optional(),
  whatsapp_template: z
    .strictObject({
      content_sid: z.string().regex(/^HX[0-9a-fA-F]{32}$/, 'a Twilio Content SID (HX…)'),
      variables: z.record(z.string(), z.string()).optional(),
      /** The template's WhatsApp category, as approved: what its sends are metered (and billed by Meta) as. */
      category: z.enum(['utility', 'marketing', 'authentication']).optional(),
    })
    .optional(),
  /** WhatsApp's transport for this tenant: Twilio (the twilio_* keys) or Meta's Cloud API directly. */
  whatsapp: z
    .strictObject({
      provider: z.enum(['twilio', 'cloud']).optional(),
      /** Cloud API: the business phone number's id (webhooks are routed by it). */
      phone_number_id: graphId.optional(),
      /** Cloud API: the WhatsApp Business Account that owns the number and its templates. */
      waba_id: graphId.optional(),
      /** Cloud API: the approved utility template sent outside the 24-hour window (see zia whatsapp templates). */
      template: z
        .strictObject({
          name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'a template name: lowercase letters, digits and underscores'),
          language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'a template language code such as en_US or nb'),
          /** The body's {{1}}…{{n}} in order; {message}, {name} and {business} are filled in when sent. */
          parameters: z.array(z.string().min(1).max(1024)).max(20).optional(),
        })
        .optional(),
      /** Cloud API: messages per second this number may send (Meta's default is 80), shared by every worker. */
      messages_per_second: z.number().int().min(1).max(1000).optional(),
      /** Cloud API: checkout links as a button, and reply buttons for the lead flow and handoff (default on). */
      buttons: z.boolean().optional(),
    })
    .refine((w) => w.provider !== 'cloud' || (w.phone_number_id !== undefined && w.waba_id !== undefined), {
      message: 'the cloud provider needs phone_number_id and waba_id',
    })
    .optional(),
  outbound_webhook_url: webUrl.optional(),
  // Channel routing and credentials (the seed's keys, accepted as given).
  fb_page_id: z.string().regex(/^\d{1,32}$/, 'digits only').optional(),
  ig_user_id: z.string().regex(/^\d{1,32}$/, 'digits only').optional(),
  twilio_account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'a Twilio account SID (AC…)').optional(),
  twilio_whatsapp_from: whatsappAddress.optional(),
  // Secrets: encrypted at rest, never returned in clear.
  fb_page_token: z.string().min(10).max(1000).optional(),
  twilio_auth_token: z.string().min(16).max(200).optional(),
  outbound_webhook_secret: z.string().min(16).max(200).optional(),
  /** A system user's access token for the WhatsApp Cloud API (whatsapp.provider = cloud). */
  whatsapp_access_token: z.string().min(20).max(1000).optional(),
});

export const SECRET_KEYS = ['fb_page_token', 'twilio_auth_token', 'outbound_webhook_secret', 'whatsapp_access_token'] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export type TenantSettingsAll = z.output<typeof settingsSchema>;
export type TenantSettings = Omit<TenantSettingsAll, SecretKey>;
export type TenantSecrets = Partial<Record<SecretKey, string>>;
export type Plan = NonNullable<TenantSettingsAll['plans']>[number];

/**
 * A settings patch: keys replace, null removes, a dotted key (`branding.color`) changes one entry of a
 * stored object (see mergeSettings). The merged result is validated against settingsSchema,
 * so an invalid or unknown key is reported with its full path (`settings.foo`).
 */
export const settingsPatchSchema = z
  .record(z.string(), z.unknown())
  .describe('tenant settings; keys replace the stored ones, null removes a key, a dotted key (branding.color) changes one nested entry; see TenantSettings');

export const tenantCreateSchema = z.strictObject({
  slug: slugSchema,
  name: z.string().trim().min(1).max(200),
  whatsapp: e164.nullable().optional(),
  settings: settingsPatchSchema.optional(),
});

export const tenantUpdateSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  whatsapp: e164.nullable().optional(),
  settings: settingsPatchSchema.optional(),
});

export type TenantCreateInput = z.output<typeof tenantCreateSchema>;
export type TenantUpdateInput = z.output<typeof tenantUpdateSchema>;

export const tenantQuerySchema = z.object({ tenant: slugSchema });
export const slugParamsSchema = z.object({ slug: slugSchema });

export const keyCreateBody = z.strictObject({ name: z.string().trim().min(1).max(100).default('api key') });
export const keyParams = z.object({ slug: slugSchema, id: z.union([ulidSchema, z.string().regex(/^[0-9a-f]{8}$/, 'a key prefix (8 hex digits)')]) });
