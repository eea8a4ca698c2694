import test from 'ava';
import { checkTurn, type TurnOutcome } from '../../src/features/eval/eval-checks.js';
import type { CheckoutRecord, ToolCallRecord } from '../../src/features/eval/eval-sandbox.js';

const PRICES = [
  { minor: 8900, currency: 'eur', digits: 2 },
  { minor: 1250, currency: 'eur', digits: 2 },
];

function outcome(reply: string | null, extra: Partial<TurnOutcome> & { lead?: TurnOutcome['result']['lead']; sources?: TurnOutcome['result']['sources'] } = {}): TurnOutcome {
  const { lead, sources, ...rest } = extra;
  return {
    result: { conversationId: 'c1', duplicate: false, reply, replyMessageId: 'm2', userMessageId: 'm1', leadFlowActive: false, ...(lead ? { lead } : {}), ...(sources ? { sources } : {}) },
    tools: [],
    checkouts: [],
    waiting: false,
    ...rest,
  };
}

const checkout = (ref: string, amount: number, quantity = 1): CheckoutRecord => ({
  request: { kind: 'item', ref, quantity, conversationId: 'c1' },
  link: { orderId: 'o1', url: 'https://checkout.stripe.com/c/pay/cs_eval_1', sessionId: 'cs_eval_1', kind: 'item', name: ref, amount, currency: 'eur', quantity },
});

test('contains and not_contains ignore case and no-break spaces; matches takes /…/flags', (t) => {
  const o = outcome('The Burr Coffee Grinder costs €\u00a089.00.');
  t.deepEqual(checkTurn({ contains: ['burr coffee grinder', '€ 89.00'], not_contains: ['sold out'], matches: 'costs €\\s?89' }, o, PRICES), []);
  t.deepEqual(
    checkTurn({ contains: ['mug'], not_contains: ['GRINDER'], matches: '/^costs/' }, o, PRICES).map((u) => u.expectation),
    ['contains', 'not_contains', 'matches'],
  );
  t.regex(checkTurn({ contains: ['x'] }, outcome(null), PRICES)[0]!.detail, /nobody answered/);
});

test('tool: called with these arguments, called with others, not called, must not be called', (t) => {
  const tools: ToolCallRecord[] = [{ name: 'create_checkout_link', args: { item_id: 'Grinder', quantity: 2 }, result: { ok: true } }];
  const o = outcome('ok', { tools });
  t.deepEqual(checkTurn({ tool: [{ name: 'create_checkout_link', args: { item_id: 'grinder', quantity: 2 } }] }, o, PRICES), []);
  t.regex(checkTurn({ tool: [{ name: 'create_checkout_link', args: { item_id: 'mug' } }] }, o, PRICES)[0]!.detail, /called with \{"item_id":"Grinder","quantity":2\}, not item_id=mug/);
  t.regex(checkTurn({ tool: [{ name: 'capture_lead' }] }, o, PRICES)[0]!.detail, /capture_lead was not called \(called: create_checkout_link\)/);
  t.regex(checkTurn({ tool: [{ name: 'create_checkout_link', called: false }] }, o, PRICES)[0]!.detail, /create_checkout_link was called/);
  t.deepEqual(checkTurn({ tool: [{ name: 'capture_lead', called: false }] }, o, PRICES), []);
});

test('checkout: item, server price and quantity; a refusal by the tool is named', (t) => {
  const o = outcome('link', { checkouts: [checkout('grinder', 17800, 2)] });
  t.deepEqual(checkTurn({ checkout: { item: 'grinder', amount: 17800, quantity: 2, currency: 'eur' } }, o, PRICES), []);
  t.deepEqual(checkTurn({ checkout: true }, o, PRICES), []);
  t.regex(checkTurn({ checkout: { item: 'grinder', amount: 8900 } }, o, PRICES)[0]!.detail, /made item grinder × 2 at 17800 eur/);
  t.regex(checkTurn({ checkout: false }, o, PRICES)[0]!.detail, /a checkout link was made \(grinder\)/);
  const refused = outcome('sorry', { tools: [{ name: 'create_checkout_link', args: { item_id: 'grinder' }, result: { ok: false, error: 'not_configured', message: 'Online payment is not set up' } }] });
  t.regex(checkTurn({ checkout: true }, refused, PRICES)[0]!.detail, /no checkout link was made: not_configured \(Online payment is not set up\)/);
});

test('lead, handoff and sources', (t) => {
  const o = outcome('Thanks!', { lead: { email: 'ada@example.com', name: 'Ada', whatsapp: null }, waiting: true, sources: [{ title: 'Returns policy', url: null }, { title: 'Shipping', url: 'https://shop.example/shipping/' }] });
  t.deepEqual(checkTurn({ lead: { email: 'ADA@example.com', name: 'ada' }, handoff: true, sources: ['Returns policy', 'https://shop.example/shipping'] }, o, PRICES), []);
  t.deepEqual(
    checkTurn({ lead: { whatsapp: '+4791234567' }, handoff: false, sources: ['https://shop.example/returns'] }, o, PRICES).map((u) => [u.expectation, u.detail]),
    [
      ['lead', 'whatsapp is missing, not +4791234567'],
      ['handoff', 'the customer was handed to a person'],
      ['sources', 'https://shop.example/returns not cited (cited: Returns policy, https://shop.example/shipping/)'],
    ],
  );
  t.regex(checkTurn({ lead: false }, o, PRICES)[0]!.detail, /a lead was captured \(ada@example\.com\)/);
  t.regex(checkTurn({ lead: true, sources: true }, outcome('Hi'), PRICES).map((u) => u.detail).join('|'), /no lead was captured\|no knowledge source was cited/);
});

test('no_invented_price accepts catalog prices however written and names the others', (t) => {
  t.deepEqual(checkTurn({ no_invented_price: true }, outcome('The grinder is €89.00 and the mug 12,50 €.'), PRICES), []);
  t.deepEqual(checkTurn({ no_invented_price: true }, outcome('Open 9 to 17, order 12345, 2 mugs.'), PRICES), [], 'numbers that are not prices');
  const [unmet] = checkTurn({ no_invented_price: true }, outcome('The grinder is €79.00 today.'), PRICES);
  t.is(unmet!.expectation, 'no_invented_price');
  t.regex(unmet!.detail, /"€79\.00" is not the price of any catalog item or plan/);
});

test('language: the reply must be recognisably in it', (t) => {
  t.deepEqual(checkTurn({ language: 'es' }, outcome('Puedes devolver el artículo en los 30 días siguientes a la entrega.'), PRICES), []);
  t.regex(checkTurn({ language: 'es' }, outcome('You can send it back within the 30 days after delivery.'), PRICES)[0]!.detail, /in en, not es/);
  t.regex(checkTurn({ language: 'en' }, outcome('OK'), PRICES)[0]!.detail, /could not be told/);
});
