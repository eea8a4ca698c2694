import test from 'ava';
import { asksForHuman, decideHandoff, isOpen, nextOpening, parseRange } from '../../src/features/handoff/handoff-policy.js';
import type { Tenant } from '../../src/features/tenants/tenant-service.js';
import { settingsSchema } from '../../src/features/tenants/tenant.schemas.js';

test('asking for a person, in the languages zia serves; ordinary messages that mention people are not asks', (t) => {
  for (const ask of ['Can I talk to a human?', 'I want to speak to a real person', 'AGENT', 'human please', 'Quiero hablar con una persona', 'persona real', 'Posso falar com um atendente?', 'Je veux parler à un conseiller', 'Ich möchte mit einem Menschen sprechen', 'Vorrei parlare con un operatore', 'Kan jeg snakke med et menneske?']) {
    t.true(asksForHuman(ask), ask);
  }
  for (const not of ['I am a travel agent looking for a gift for a person I like', 'Is this candle safe for humans and pets?', 'What are your hours?', 'How many people fit at one table?']) {
    t.false(asksForHuman(not), not);
  }
  t.true(asksForHuman('can I get the manager on the line', ['manager']), "the tenant's own keywords");
});

test('weekly hours in the tenant time zone: open, closed, and the next opening across days and the week', (t) => {
  const hours = { mon: ['09:00-12:00', '13:00-17:00'], fri: ['10:00-14:00'] };
  const zone = 'America/New_York';
  // Monday 2026-12-07 11:00 in New York is 16:00 UTC.
  t.true(isOpen(hours, zone, new Date('2026-12-07T16:00:00Z')));
  t.false(isOpen(hours, zone, new Date('2026-12-07T17:30:00Z')), 'lunch break');
  t.deepEqual(nextOpening(hours, zone, new Date('2026-12-07T17:30:00Z')), { inDays: 0, weekday: 'mon', time: '13:00' });
  t.deepEqual(nextOpening(hours, zone, new Date('2026-12-08T02:00:00Z')), { inDays: 4, weekday: 'fri', time: '10:00' }, 'Monday 21:00 local: Friday next');
  t.deepEqual(nextOpening(hours, zone, new Date('2026-12-11T20:00:00Z')), { inDays: 3, weekday: 'mon', time: '09:00' }, 'over the weekend');
  t.deepEqual(nextOpening({ mon: ['09:00-10:00'] }, 'UTC', new Date('2026-12-07T09:30:00Z')), { inDays: 7, weekday: 'mon', time: '09:00' }, 'a week later');
  t.true(isOpen(undefined, zone, new Date()), 'no hours: always in');
  t.true(isOpen({ sun: ['00:00-24:00'] }, 'UTC', new Date('2026-12-06T23:59:00Z')));
});

test('what the customer is told, in and out of hours', (t) => {
  const tenant = (handoff: Record<string, unknown>) => ({ settings: { time_zone: 'Europe/Oslo', handoff: { enabled: true, hours: { wed: ['08:00-16:00'] }, ...handoff } } }) as unknown as Tenant;
  const wednesdayNoon = new Date('2026-12-09T11:00:00Z');
  const sundayEvening = new Date('2026-12-06T19:00:00Z');
  t.deepEqual(decideHandoff(tenant({}), wednesdayNoon), { pause: true, withinHours: true, message: "I've asked a person from our team to join. They'll answer here shortly." });
  t.deepEqual(decideHandoff(tenant({}), sundayEvening), { pause: true, withinHours: false, message: 'Our team is away right now. A person will answer here on Wednesday at 08:00.' });
  t.deepEqual(decideHandoff(tenant({ away_message: 'Closed. Back {next}!', bot_while_waiting: true }), sundayEvening), {
    pause: false,
    withinHours: false,
    message: "Closed. Back on Wednesday at 08:00! Meanwhile I'm happy to keep helping.",
  });
});

test('settings: hours, time zone and handoff keys are checked with their paths', (t) => {
  t.true(settingsSchema.safeParse({ time_zone: 'Europe/Oslo', handoff: { enabled: true, hours: { mon: ['09:00-17:00'], sun: ['00:00-24:00'] } } }).success);
  const bad = settingsSchema.safeParse({ time_zone: 'Mars/Base', handoff: { hours: { mon: ['17:00-09:00'], xyz: [] }, colour: 'x' } });
  t.false(bad.success);
  const paths = bad.error!.issues.map((i) => i.path.join('.'));
  t.true(paths.includes('time_zone'));
  t.true(paths.includes('handoff.hours.mon.0'));
  t.true(paths.some((p) => p.startsWith('handoff.hours')) && paths.some((p) => p === 'handoff' || p.includes('colour')), JSON.stringify(paths));
  t.deepEqual(parseRange('09:00-17:30'), { start: 540, end: 1050 });
  t.is(parseRange('9-17'), undefined);
});
