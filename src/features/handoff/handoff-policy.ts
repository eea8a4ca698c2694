import type { Tenant } from '../tenants/tenant-service.js';

/**
 * When a customer asks for a person: whether they did, whether the team is in now (the tenant's weekly
 * hours in its time zone), and what the customer is told. Pure functions of the text, the settings and
 * the clock, so the chat engine, the model's request_human tool and the tests share one rule.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
/** Opening hours per weekday as "HH:MM-HH:MM" ranges in the tenant's time zone; a missing day is closed. */
export type WeeklyHours = Partial<Record<Weekday, string[]>>;

/**
 * Phrases that ask for a person, in the languages zia's tenants serve. Every list is checked whatever
 * the tenant's locale (a customer writes in their own language). Matched on whole words, accents and
 * case ignored.
 */
const PHRASES: Record<string, string[]> = {
  en: ['talk to a human', 'speak to a human', 'talk to a person', 'speak to a person', 'talk to someone', 'speak to someone', 'real person', 'human agent', 'live agent', 'talk to an agent', 'speak to an agent', 'customer service agent', 'a human please', 'representative', 'operator please'],
  es: ['persona real', 'hablar con una persona', 'hablar con alguien', 'hablar con un humano', 'hablar con un agente', 'un humano', 'atencion humana', 'un asesor'],
  pt: ['pessoa real', 'falar com uma pessoa', 'falar com alguem', 'falar com um humano', 'falar com um atendente', 'atendimento humano', 'um atendente'],
  fr: ['vraie personne', 'parler a un humain', 'parler a une personne', 'parler a quelqu un', 'parler a un conseiller', 'un conseiller'],
  de: ['echte person', 'mit einem menschen', 'mit einer person sprechen', 'mit einem mitarbeiter', 'einen mitarbeiter'],
  it: ['persona reale', 'parlare con una persona', 'parlare con un operatore', 'un operatore'],
  nb: ['ekte person', 'snakke med et menneske', 'snakke med en person', 'snakke med noen'],
};

/** Single words that ask for a person only when they are (nearly) the whole message: "agent", "human?" */
const SHORT_ASKS = new Set(['human', 'agent', 'person', 'operator', 'humano', 'humana', 'agente', 'persona', 'pessoa', 'atendente', 'humain', 'conseiller', 'mensch', 'menneske', 'operatore']);

function normalise(text: string): string {
  return ` ${text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()} `;
}

/** The built-in phrases as they are matched, normalised once. */
const ALL_PHRASES = Object.values(PHRASES).flat().map(normalise);

/** Whether the customer's message asks for a person (the tenant's own keywords count too). */
export function asksForHuman(text: string, keywords: readonly string[] = []): boolean {
  const t = normalise(text);
  if (ALL_PHRASES.some((p) => t.includes(p)) || keywords.some((k) => t.includes(normalise(k)))) return true;
  const words = t.trim().split(' ').filter(Boolean);
  return words.length > 0 && words.length <= 3 && words.some((w) => SHORT_ASKS.has(w));
}

/** A settings value that is a valid "HH:MM-HH:MM" range with the end after the start (24:00 allowed as an end). */
export function parseRange(range: string): { start: number; end: number } | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/.exec(range);
  if (!m) return undefined;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  return end > start && end <= 24 * 60 ? { start, end } : undefined;
}

export function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The weekday and minute of the day at `now` in the zone. */
function localTime(now: Date, zone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  const day = WEEKDAYS.indexOf(get('weekday').toLowerCase().slice(0, 3) as Weekday);
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

function rangesOf(hours: WeeklyHours, day: number): Array<{ start: number; end: number }> {
  return (hours[WEEKDAYS[day]!] ?? []).map(parseRange).filter((r) => r !== undefined);
}

export interface Opening {
  /** 0 today, 1 tomorrow, … 7 the same weekday next week. */
  inDays: number;
  weekday: Weekday;
  /** "09:00" in the tenant's time zone. */
  time: string;
}

/** Open now? No hours set means always. */
export function isOpen(hours: WeeklyHours | undefined, zone: string, now: Date): boolean {
  if (!hours) return true;
  const { day, minute } = localTime(now, zone);
  return rangesOf(hours, day).some((r) => r.start <= minute && minute < r.end);
}

/** The next time the team is in, within a week; undefined when the hours name no day at all. */
export function nextOpening(hours: WeeklyHours, zone: string, now: Date): Opening | undefined {
  const { day, minute } = localTime(now, zone);
  for (let inDays = 0; inDays <= 7; inDays++) {
    const d = (day + inDays) % 7;
    const starts = rangesOf(hours, d)
      .map((r) => r.start)
      .filter((s) => inDays > 0 || s > minute)
      .sort((a, b) => a - b);
    if (starts.length > 0) {
      const s = starts[0]!;
      return { inDays, weekday: WEEKDAYS[d]!, time: `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` };
    }
  }
  return undefined;
}

const DAY_NAMES: Record<Weekday, string> = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };

function describeOpening(o: Opening | undefined): string {
  if (!o) return 'as soon as someone is available';
  if (o.inDays === 0) return `today at ${o.time}`;
  if (o.inDays === 1) return `tomorrow at ${o.time}`;
  return `on ${DAY_NAMES[o.weekday]} at ${o.time}`;
}

export const DEFAULT_HANDOFF_MESSAGE = "I've asked a person from our team to join. They'll answer here shortly.";
export const DEFAULT_AWAY_MESSAGE = "Our team is away right now. A person will answer here {next}.";

/** What happens to a conversation whose customer asked for a person. */
export interface HandoffDecision {
  /** The bot stops answering (in hours, or outside them unless the tenant lets it keep helping). */
  pause: boolean;
  withinHours: boolean;
  /** The customer is told this. */
  message: string;
}

/** How an operator's messages are labelled to the customer and the model. */
export function operatorLabel(tenant: Tenant): string {
  return tenant.settings.handoff?.operator_label ?? 'Team';
}

export function handoffEnabled(tenant: Tenant): boolean {
  return tenant.settings.handoff?.enabled === true;
}

/** Public comments are answered in public, never taken over by a person. */
const PUBLIC_CHANNELS: ReadonlySet<string> = new Set(['fb_comment', 'ig_comment']);

/** Whether a request for a person is taken in this conversation: handoff on, and not a public comment. */
export function takesHandoff(tenant: Tenant, channel: string): boolean {
  return handoffEnabled(tenant) && !PUBLIC_CHANNELS.has(channel);
}

export function decideHandoff(tenant: Tenant, now: Date): HandoffDecision {
  const settings = tenant.settings.handoff ?? {};
  const zone = tenant.settings.time_zone ?? 'UTC';
  if (isOpen(settings.hours, zone, now)) return { pause: true, withinHours: true, message: settings.message ?? DEFAULT_HANDOFF_MESSAGE };
  const keepHelping = settings.bot_while_waiting === true;
  const away = (settings.away_message ?? DEFAULT_AWAY_MESSAGE).replaceAll('{next}', describeOpening(nextOpening(settings.hours!, zone, now)));
  return { pause: !keepHelping, withinHours: false, message: keepHelping ? `${away} Meanwhile I'm happy to keep helping.` : away };
}
