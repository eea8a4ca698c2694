import test from 'ava';
import { advanceLeadFlow, hasContactIntent, parseEmail, parseName, parseWhatsapp, startLeadFlow } from '../../src/features/leads/lead-flow.js';

const opts = { askWhatsapp: true };

test('the flow walks name → email → WhatsApp and re-asks on invalid input', (t) => {
  let { state } = startLeadFlow();
  t.is(state.step, 'name');
  let o = advanceLeadFlow(state, '12345', opts);
  t.is(o.kind, 'continue');
  t.is(o.kind === 'continue' && o.state.step, 'name', 'digits are not a name');
  o = advanceLeadFlow(state, "I'm Grace Hopper.", opts);
  if (o.kind !== 'continue') return t.fail();
  t.deepEqual(o.state, { step: 'email', name: 'Grace Hopper' });
  state = o.state;
  o = advanceLeadFlow(state, 'grace at navy', opts);
  t.is(o.kind === 'continue' && o.state.step, 'email');
  o = advanceLeadFlow(state, 'Sure: Grace@Navy.MIL.', opts);
  if (o.kind !== 'continue') return t.fail();
  t.deepEqual(o.state, { step: 'whatsapp', name: 'Grace Hopper', email: 'grace@navy.mil' });
  state = o.state;
  t.is(advanceLeadFlow(state, '555-1234', opts).kind, 'continue');
  t.deepEqual(advanceLeadFlow(state, '0047 912 34 567', opts), { kind: 'captured', lead: { name: 'Grace Hopper', email: 'grace@navy.mil', whatsapp: '+4791234567' } });
  t.deepEqual(advanceLeadFlow(state, 'skip', opts), { kind: 'captured', lead: { name: 'Grace Hopper', email: 'grace@navy.mil', whatsapp: null } });
});

test('cancel leaves the flow at any step; WhatsApp can be turned off', (t) => {
  t.is(advanceLeadFlow({ step: 'email', name: 'A' }, 'cancel', opts).kind, 'cancelled');
  t.is(advanceLeadFlow({ step: 'name' }, 'never mind', opts).kind, 'cancelled');
  t.deepEqual(advanceLeadFlow({ step: 'email', name: 'A' }, 'a@b.co', { askWhatsapp: false }), { kind: 'captured', lead: { name: 'A', email: 'a@b.co', whatsapp: null } });
});

test('parsers', (t) => {
  t.is(parseName('my name is Ada'), 'Ada');
  t.is(parseName('http://spam.example'), undefined);
  t.is(parseName('this is a very long sentence and not a name at all'), undefined);
  t.is(parseEmail('write to <bob@example.com> please'), 'bob@example.com');
  t.is(parseEmail('bob@'), undefined);
  t.is(parseWhatsapp('whatsapp:+1 (555) 010-9999'), '+15550109999');
  t.is(parseWhatsapp('+0123456789'), undefined);
  t.true(hasContactIntent('Can someone contact me?'));
  t.true(hasContactIntent('I want to speak with a human'));
  t.false(hasContactIntent('What are your opening hours?'));
});
