import test from 'ava';
import { ValidationError } from '../../src/errors.js';
import { mergeSettings } from '../../src/features/tenants/settings-merge.js';

test('a plain key replaces, null removes, and the stored settings are not changed in place', (t) => {
  const stored = { tone: 'warm', branding: { color: '#000000', title: 'Shop' }, greeting: 'Hi' };
  const merged = mergeSettings(stored, { tone: 'crisp', greeting: null, branding: { title: 'New' } });
  t.deepEqual(merged, { tone: 'crisp', branding: { title: 'New' } });
  t.deepEqual(stored, { tone: 'warm', branding: { color: '#000000', title: 'Shop' }, greeting: 'Hi' });
});

test('a dotted key changes one nested entry and keeps its siblings; dotted null removes only that entry', (t) => {
  const stored = { branding: { color: '#000000', title: 'Shop' }, plans: [{ id: 'a', amount: 1 }, { id: 'b', amount: 2 }] };
  t.deepEqual(mergeSettings(stored, { 'branding.color': '#ff0066' }).branding, { color: '#ff0066', title: 'Shop' });
  t.deepEqual(mergeSettings(stored, { 'branding.title': null }).branding, { color: '#000000' });
  t.deepEqual(mergeSettings(stored, { 'plans.1.amount': 5 }).plans, [{ id: 'a', amount: 1 }, { id: 'b', amount: 5 }]);
  t.deepEqual(mergeSettings(stored, { 'plans.0': null }).plans, [{ id: 'b', amount: 2 }]);
  t.deepEqual(stored.plans[1], { id: 'b', amount: 2 });
});

test('a dotted key on nothing stored makes the object, or the array for a numeric segment', (t) => {
  t.deepEqual(mergeSettings({}, { 'lead.mode': 'intent', 'faq.0.q': 'Open?', 'faq.0.a': 'Yes' }), { lead: { mode: 'intent' }, faq: [{ q: 'Open?', a: 'Yes' }] });
});

test('keys that would reach a prototype, and empty segments, are refused with their path', (t) => {
  for (const key of ['__proto__.polluted', 'branding.constructor.x', 'branding..color', '.tone', 'prototype']) {
    const err = t.throws(() => mergeSettings({}, { [key]: 1 }), { instanceOf: ValidationError });
    t.is(err?.problems[0]?.path, `settings.${key}`);
  }
  t.is(({} as Record<string, unknown>).polluted, undefined);
});
