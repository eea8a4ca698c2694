import type { Knex } from 'knex';

/**
 * Usage per tenant and UTC day, counted where it happens, for billing and caps. The events that are
 * usage (a conversation started, a message in, a reply delivered, a checkout made, a payment) count
 * themselves: a trigger on `events` adds to the day's counter in the same statement that records the
 * event, so a count is never lost or doubled, whichever process wrote it. Model requests and tokens
 * are added by the AI provider beside the daily token quota. Events recorded before this migration
 * are counted once, here.
 *
 * `usage_alerts` holds each cap threshold a tenant crossed in a month: inserting its row is what
 * makes one process, fleet-wide, announce it.
 */
export const tables = ['usage_counters', 'usage_alerts'];

/**
 * Event type → counter; the dimension is the event's channel (checkouts have none). Besides these, a
 * reply sent as a WhatsApp template counts in `template_sends` by the template's category, and a
 * payment in `payments` and `paid_amount` by currency.
 */
const COUNTED: ReadonlyArray<[event: string, metric: string]> = [
  ['conversation_started', 'conversations'],
  ['message_received', 'messages_in'],
  ['comment_received', 'messages_in'],
  ['reply_sent', 'messages_out'],
  ['public_reply_sent', 'messages_out'],
  ['private_reply_sent', 'messages_out'],
  ['checkout_created', 'checkout_sessions'],
];

const metricCase = (type: string) => `case ${type} ${COUNTED.map(([e, m]) => `when '${e}' then '${m}'`).join(' ')} end`;
const countedTypes = COUNTED.map(([e]) => `'${e}'`).join(', ');
const UPSERT = 'on conflict (tenant_id, day, metric, dimension) do update set value = usage_counters.value + excluded.value';

export async function up(knex: Knex): Promise<void> {
  const pg = knex.client.config.client === 'pg';
  await knex.schema.createTable('usage_counters', (t) => {
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('day', 10).notNullable();
    t.string('metric', 32).notNullable();
    // A channel, a model, a currency; '' when the metric has none.
    t.string('dimension', 200).notNullable().defaultTo('');
    t.bigInteger('value').notNullable().defaultTo(0);
    t.primary(['tenant_id', 'day', 'metric', 'dimension']);
  });
  await knex.schema.createTable('usage_alerts', (t) => {
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('month', 7).notNullable();
    t.string('cap', 32).notNullable();
    t.integer('percent').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.primary(['tenant_id', 'month', 'cap', 'percent']);
  });
  if (pg) {
    await knex.raw(`create function usage_count_event() returns trigger language plpgsql as $$
      declare
        event_day text := to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD');
        event_currency text := lower(coalesce(new.data->>'currency', ''));
      begin
        if new.type in (${countedTypes}) then
          insert into usage_counters (tenant_id, day, metric, dimension, value)
            values (new.tenant_id, event_day, ${metricCase('new.type')},
                    case when new.type = 'checkout_created' then '' else coalesce(new.data->>'channel', '') end, 1)
            ${UPSERT};
        end if;
        if new.type = 'reply_sent' and new.data->>'template' is not null then
          insert into usage_counters (tenant_id, day, metric, dimension, value)
            values (new.tenant_id, event_day, 'template_sends', coalesce(new.data->>'category', 'unknown'), 1) ${UPSERT};
        elsif new.type = 'payment_completed' then
          insert into usage_counters (tenant_id, day, metric, dimension, value) values (new.tenant_id, event_day, 'payments', event_currency, 1) ${UPSERT};
          insert into usage_counters (tenant_id, day, metric, dimension, value)
            values (new.tenant_id, event_day, 'paid_amount', event_currency, coalesce((new.data->>'amount')::bigint, 0)) ${UPSERT};
        end if;
        return null;
      end $$`);
    await knex.raw('create trigger events_usage after insert on events for each row execute function usage_count_event()');
  } else {
    await knex.raw(`create trigger events_usage after insert on events when new.type in (${countedTypes}) begin
      insert into usage_counters (tenant_id, day, metric, dimension, value)
        values (new.tenant_id, substr(new.created_at, 1, 10), ${metricCase('new.type')},
                case when new.type = 'checkout_created' then '' else coalesce(json_extract(new.data, '$.channel'), '') end, 1)
        ${UPSERT};
      end`);
    await knex.raw(`create trigger events_usage_template after insert on events when new.type = 'reply_sent' and json_extract(new.data, '$.template') is not null begin
      insert into usage_counters (tenant_id, day, metric, dimension, value)
        values (new.tenant_id, substr(new.created_at, 1, 10), 'template_sends', coalesce(json_extract(new.data, '$.category'), 'unknown'), 1) ${UPSERT};
      end`);
    await knex.raw(`create trigger events_usage_payment after insert on events when new.type = 'payment_completed' begin
      insert into usage_counters (tenant_id, day, metric, dimension, value)
        values (new.tenant_id, substr(new.created_at, 1, 10), 'payments', lower(coalesce(json_extract(new.data, '$.currency'), '')), 1) ${UPSERT};
      insert into usage_counters (tenant_id, day, metric, dimension, value)
        values (new.tenant_id, substr(new.created_at, 1, 10), 'paid_amount', lower(coalesce(json_extract(new.data, '$.currency'), '')),
                coalesce(json_extract(new.data, '$.amount'), 0)) ${UPSERT};
      end`);
  }
  await backfill(knex, pg);
}

/** The events already recorded, counted as the trigger would have counted them. */
async function backfill(knex: Knex, pg: boolean): Promise<void> {
  const day = pg ? `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')` : 'substr(created_at, 1, 10)';
  const field = (name: string) => (pg ? `coalesce(data->>'${name}', '')` : `coalesce(json_extract(data, '$.${name}'), '')`);
  const amount = pg ? `coalesce((data->>'amount')::bigint, 0)` : `coalesce(json_extract(data, '$.amount'), 0)`;
  await knex.raw(`insert into usage_counters (tenant_id, day, metric, dimension, value)
    select tenant_id, ${day}, ${metricCase('type')}, case when type = 'checkout_created' then '' else ${field('channel')} end, count(*)
    from events where type in (${countedTypes})
    group by tenant_id, ${day}, ${metricCase('type')}, case when type = 'checkout_created' then '' else ${field('channel')} end`);
  await knex.raw(`insert into usage_counters (tenant_id, day, metric, dimension, value)
    select tenant_id, ${day}, 'template_sends', ${field('category')}, count(*)
    from events where type = 'reply_sent' and ${pg ? `data->>'template' is not null` : `json_extract(data, '$.template') is not null`}
    group by tenant_id, ${day}, ${field('category')}`);
  for (const [metric, value] of [
    ['payments', 'count(*)'],
    ['paid_amount', `sum(${amount})`],
  ]) {
    await knex.raw(`insert into usage_counters (tenant_id, day, metric, dimension, value)
      select tenant_id, ${day}, '${metric}', lower(${field('currency')}), ${value}
      from events where type = 'payment_completed' group by tenant_id, ${day}, lower(${field('currency')})`);
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.raw('drop trigger if exists events_usage on events');
    await knex.raw('drop function if exists usage_count_event()');
  } else {
    await knex.raw('drop trigger if exists events_usage');
    await knex.raw('drop trigger if exists events_usage_template');
    await knex.raw('drop trigger if exists events_usage_payment');
  }
  await knex.schema.dropTableIfExists('usage_alerts');
  await knex.schema.dropTableIfExists('usage_counters');
}
