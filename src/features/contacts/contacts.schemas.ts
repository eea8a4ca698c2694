import { z } from 'zod';
import { emailSchema } from '../leads/lead-flow.js';
import { slugSchema } from '../tenants/tenant.schemas.js';

/** What identifies a person inside one tenant, and the channels whose user ids are of that kind. */
export const IDENTIFIER_KINDS = ['email', 'phone', 'psid', 'visitor'] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];

export interface Identifier {
  kind: IdentifierKind;
  value: string;
}

const userId = z.string().trim().min(1).max(128).regex(/^[\w.:-]+$/, 'letters, digits, dot, colon, dash, underscore');

/** Each kind as stored: emails lower-case (as leads keep them), phones in E.164 (as WhatsApp conversations and leads keep them). */
export const identifierSchemas = {
  email: z.string().trim().toLowerCase().pipe(emailSchema),
  phone: z
    .string()
    .trim()
    .transform((v) => v.replace(/[\s().-]/g, '').replace(/^00/, '+'))
    .pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number such as +4791234567')),
  psid: userId.describe('a Messenger, Instagram or comment user id'),
  visitor: userId.describe("the web widget's visitor id"),
} satisfies Record<IdentifierKind, z.ZodType<string>>;

const identifierFields = {
  email: identifierSchemas.email.optional(),
  phone: identifierSchemas.phone.optional(),
  psid: identifierSchemas.psid.optional(),
  visitor: identifierSchemas.visitor.optional(),
};

type IdentifierFields = { [K in IdentifierKind]?: string };

/** Exactly one identifier: two could name two different people, and an erasure must never guess. */
function exactlyOne(fields: IdentifierFields, ctx: z.RefinementCtx): void {
  const given = IDENTIFIER_KINDS.filter((k) => fields[k] !== undefined);
  if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `give exactly one of ${IDENTIFIER_KINDS.join(', ')}${given.length > 1 ? ` (got ${given.join(', ')})` : ''}` });
}

export function identifierOf(fields: IdentifierFields): Identifier {
  const kind = IDENTIFIER_KINDS.find((k) => fields[k] !== undefined)!;
  return { kind, value: fields[kind]! };
}

const tenantField = slugSchema.optional().describe('required with ADMIN_KEY; a scoped key always means its own tenant');

export const contactQuery = z.strictObject({ tenant: tenantField, ...identifierFields }).superRefine(exactlyOne);
export const contactEraseBody = z.strictObject({ tenant: tenantField, ...identifierFields }).superRefine(exactlyOne);

const obj = <T extends z.ZodRawShape>(shape: T) => z.object(shape).loose();
const time = z.string().describe('ISO 8601 timestamp');

/** What the routes answer (documentation only, as in http/response-schemas.ts). */
export const contactFound = obj({
  identifier: obj({ kind: z.enum(IDENTIFIER_KINDS), value: z.string() }),
  conversations: z.array(obj({ id: z.string(), channel: z.string(), created_at: time, updated_at: time, messages: z.number().int() })),
  leads: z.array(obj({ id: z.string(), email: z.string(), name: z.string().nullable(), whatsapp: z.string().nullable(), created_at: time })),
  orders: z.array(obj({ id: z.string(), status: z.string(), amount: z.number().int(), currency: z.string(), created_at: time, paid_at: time.nullable() })),
});

export const contactExport = obj({
  tenant: z.string(),
  identifier: obj({ kind: z.enum(IDENTIFIER_KINDS), value: z.string() }),
  exported_at: time,
  conversations: z.array(obj({ id: z.string(), channel: z.string(), external_user_id: z.string() })),
  messages: z.array(obj({ id: z.string(), conversation_id: z.string(), role: z.string(), text: z.string(), created_at: time })),
  leads: z.array(obj({ id: z.string(), email: z.string() })),
  orders: z.array(obj({ id: z.string(), amount: z.number().int(), currency: z.string(), status: z.string() })),
  events: z.array(obj({ id: z.string(), type: z.string(), data: z.record(z.string(), z.unknown()), created_at: time })),
  deliveries: obj({
    inbox: z.array(obj({ id: z.string(), provider: z.string(), external_id: z.string(), status: z.string(), payload: z.unknown() })),
    sends: z.array(obj({ id: z.string(), channel: z.string(), status: z.string(), request: z.unknown() })),
  }),
});

export const contactErased = obj({
  id: z.string().describe('the erasure record (contact_erasures)'),
  reference: z.string().describe('the pseudonym the kept conversations, events and orders now carry'),
  nothing_found: z.boolean(),
  counts: z.record(z.string(), obj({ deleted: z.number().int().optional(), changed: z.number().int().optional() })),
});
