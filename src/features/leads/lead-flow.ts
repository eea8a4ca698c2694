import { z } from 'zod';

/**
 * The lead flow as a pure state machine: name → email → WhatsApp (optional). It lives in the
 * conversation's lead_state so any process can continue it, and it answers the same whichever AI
 * provider is configured, because no provider is involved.
 */

export type LeadStep = 'name' | 'email' | 'whatsapp';

export interface LeadState {
  step: LeadStep;
  name?: string;
  email?: string;
}

export interface CapturedLead {
  name: string;
  email: string;
  whatsapp: string | null;
}

export interface LeadFlowOptions {
  askWhatsapp: boolean;
}

export type LeadFlowOutcome =
  | { kind: 'continue'; state: LeadState; reply: string }
  | { kind: 'cancelled'; reply: string }
  | { kind: 'captured'; lead: CapturedLead };

export const emailSchema = z.email().max(320);
export const e164Schema = z.string().regex(/^\+[1-9]\d{6,14}$/);

const CANCEL = /^(cancel|stop|quit|exit|never ?mind|no thanks?|no,? thank you|forget it)\b/i;
const SKIP = /^(skip|no|none|nope|n\/a|-|no whatsapp|i don'?t have (one|whatsapp))\.?$/i;

export const PROMPTS = {
  name: "Sure! What's your name?",
  email: (name: string) => `Thanks, ${name}! What's your email address?`,
  whatsapp: 'And your WhatsApp number with the country code (for example +4791234567)? Say "skip" to leave it out.',
  badName: "Sorry, I didn't catch that. What's your name?",
  badEmail: "That doesn't look like an email address. Could you type it again (like name@example.com)?",
  badWhatsapp: 'That number does not look right. Please include the country code, like +4791234567, or say "skip".',
  cancelled: 'No problem, I have cancelled that. How else can I help?',
};

export function startLeadFlow(): { state: LeadState; reply: string } {
  return { state: { step: 'name' }, reply: PROMPTS.name };
}

export function isCancel(text: string): boolean {
  return CANCEL.test(text.trim());
}

export function parseName(text: string): string | undefined {
  const t = text
    .trim()
    .replace(/^(hi|hello|hey)[,!.\s]+/i, '')
    .replace(/^(my name is|my name's|name is|i am|i'm|im|it's|it is|this is|call me)\s+/i, '')
    .replace(/[.!]+$/, '')
    .trim();
  if (t.length < 1 || t.length > 100) return undefined;
  if (!/\p{L}/u.test(t)) return undefined;
  if (/[@<>{}[\]\\/]|https?:/i.test(t)) return undefined;
  if (t.split(/\s+/).length > 5) return undefined;
  return t;
}

export function parseEmail(text: string): string | undefined {
  const m = /[^\s<>()"',;:]+@[^\s<>()"',;:]+/.exec(text);
  if (!m) return undefined;
  const candidate = m[0].replace(/[.!?]+$/, '').toLowerCase();
  return emailSchema.safeParse(candidate).success ? candidate : undefined;
}

/** Normalises what people type for a phone number ("+47 912 34 567", "0047-91234567") to E.164. */
export function parseWhatsapp(text: string): string | undefined {
  let t = text.trim().replace(/^whatsapp:/i, '').replace(/[\s().-]/g, '');
  if (t.startsWith('00')) t = `+${t.slice(2)}`;
  return e164Schema.safeParse(t).success ? t : undefined;
}

export function advanceLeadFlow(state: LeadState, text: string, options: LeadFlowOptions): LeadFlowOutcome {
  if (isCancel(text)) return { kind: 'cancelled', reply: PROMPTS.cancelled };
  switch (state.step) {
    case 'name': {
      const name = parseName(text);
      if (!name) return { kind: 'continue', state, reply: PROMPTS.badName };
      return { kind: 'continue', state: { step: 'email', name }, reply: PROMPTS.email(name) };
    }
    case 'email': {
      const email = parseEmail(text);
      if (!email) return { kind: 'continue', state, reply: PROMPTS.badEmail };
      const name = state.name ?? '';
      if (!options.askWhatsapp) return { kind: 'captured', lead: { name, email, whatsapp: null } };
      return { kind: 'continue', state: { step: 'whatsapp', name, email }, reply: PROMPTS.whatsapp };
    }
    case 'whatsapp': {
      const lead = { name: state.name ?? '', email: state.email ?? '' };
      if (SKIP.test(text.trim())) return { kind: 'captured', lead: { ...lead, whatsapp: null } };
      const whatsapp = parseWhatsapp(text);
      if (!whatsapp) return { kind: 'continue', state, reply: PROMPTS.badWhatsapp };
      return { kind: 'captured', lead: { ...lead, whatsapp } };
    }
  }
}

export function capturedReply(lead: CapturedLead): string {
  return `Thank you, ${lead.name}! We'll get back to you at ${lead.email}${lead.whatsapp ? ` or on WhatsApp (${lead.whatsapp})` : ''}.`;
}

const CONTACT_INTENT =
  /\b(contact me|call me|reach me|reach out|get in touch|talk to (a |an )?(human|person|someone|agent|sales)|speak (to|with) (a |an )?(human|person|someone|agent|sales)|call ?back|email me|leave (my|a) (number|contact|details|email)|have someone (contact|call|email))\b/i;

/** "contact me"-style intent: the flow starts on it when the tenant's lead mode is 'intent'. */
export function hasContactIntent(text: string): boolean {
  return CONTACT_INTENT.test(text);
}
