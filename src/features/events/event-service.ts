import type { Write } from '../../db/create-db.js';
import type { Logger } from '../../logger.js';
import type { EventRecord, EventStore } from './event-store.js';
import { type Tx } from '../../db/unit-of-work.js';

/**
 * The analytics event types zia records. Adding a type is adding it here, so the funnel queries and
 * the docs have one list to read.
 */
export const EVENT_TYPES = [
  'conversation_started',
  'message_received',
  'reply_sent',
  'reply_failed',
  'reply_not_sent',
  'lead_started',
  'lead_captured',
  'lead_resubmitted',
  'checkout_created',
  'payment_completed',
  'payment_failed',
  'ai_error',
  'comment_received',
  'public_reply_sent',
  'private_reply_sent',
  'handoff_requested',
  'handoff_paused',
  'handoff_resumed',
  'operator_reply',
  'send_held',
  'send_resent',
  'usage_cap_warning',
  'usage_cap_reached',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type EventListener = (event: EventRecord) => void;

export class EventService {
  private readonly listeners: EventListener[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  /** Outbound webhooks and metrics subscribe here; a failing listener never fails the caller. */
  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  async record(
    tenantId: string,
    type: EventType,
    opts: { conversationId?: string | null; data?: Record<string, unknown>; trx?: Tx } = {},
  ): Promise<EventRecord> {
    const event = await this.store.insert(tenantId, type, opts.conversationId ?? null, opts.data ?? {}, opts.trx);
    this.notify([event]);
    return event;
  }

  /**
   * Several events in one insert. Inside a transaction the listeners hear of them once it has
   * committed, so a rolled-back (or retried) transaction announces nothing.
   */
  async recordAll(
    tenantId: string,
    items: Array<{ type: EventType; conversationId?: string | null; data?: Record<string, unknown> }>,
    opts: { trx?: Tx } = {},
  ): Promise<EventRecord[]> {
    const { write, events, announce } = this.prepareAll(tenantId, items);
    if (write) await this.store.run(write, opts.trx);
    if (opts.trx) opts.trx.afterCommit(announce);
    else announce();
    return events;
  }

  /**
   * recordAll in two halves, for a caller that commits the insert with other writes (Db.writeAll): the
   * insert, not yet run, and `announce` to call once it has committed.
   */
  prepareAll(
    tenantId: string,
    items: Array<{ type: EventType; conversationId?: string | null; data?: Record<string, unknown> }>,
  ): { write: Write | undefined; events: EventRecord[]; announce(): void } {
    const { write, events } = this.store.insertWrite(
      tenantId,
      items.map((e) => ({ type: e.type, conversationId: e.conversationId ?? null, data: e.data ?? {} })),
    );
    return { write, events, announce: () => this.notify(events) };
  }

  private notify(events: EventRecord[]): void {
    for (const event of events) {
      for (const l of this.listeners) {
        try {
          l(event);
        } catch (err) {
          this.logger.warn({ err, type: event.type }, 'event listener failed');
        }
      }
    }
  }

  list(tenantId: string, filter: Parameters<EventStore['list']>[1]): Promise<EventRecord[]> {
    return this.store.list(tenantId, filter);
  }

  after(filter: Parameters<EventStore['after']>[0]): Promise<EventRecord[]> {
    return this.store.after(filter);
  }
}
