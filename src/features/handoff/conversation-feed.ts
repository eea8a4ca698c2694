import { decodeTime, encodeTime } from 'ulid';
import type { Logger } from '../../logger.js';
import type { ConversationReadModel, MessageView } from '../chat/conversation-read-model.js';
import type { EventRecord } from '../events/event-store.js';
import type { EventService, EventType } from '../events/event-service.js';

/**
 * The live feed of conversations for operators (GET /v1/admin/conversations/stream, `zia inbox`):
 * messages, handoff requests, pauses and delivery status as they are recorded, by any process on the
 * database. The events table is the log: each item is an event with its stored id, so a client that
 * reconnects with Last-Event-ID gets what it missed.
 *
 * One poller per process reads the log for every open stream: at once when this process records a
 * feed event, and every second for the others' (workers on other hosts). An event's id is made before
 * its transaction commits, so one can land after a later id was already read: each read starts
 * LOOKBACK_MS before the previous read began, and each stream skips ids it has sent.
 */

export const FEED_TYPES = [
  'conversation_started',
  'message_received',
  'reply_sent',
  'reply_failed',
  'reply_not_sent',
  'operator_reply',
  'handoff_requested',
  'handoff_paused',
  'handoff_resumed',
  'send_held',
  'send_resent',
] as const satisfies readonly EventType[];

const FEED_TYPE_SET = new Set<string>(FEED_TYPES);
export const LOOKBACK_MS = 5_000;
const POLL_MS = 1_000;
const PAGE = 500;

export interface FeedItem {
  event: EventRecord;
  /** The message the event is about (received, replied, sent), when it names one. */
  message: (MessageView & { conversationId: string }) | null;
}

interface Subscriber {
  /** undefined: every tenant (ADMIN_KEY). */
  tenantId: string | undefined;
  /** Only this conversation's events (a web visitor's widget). */
  conversationId: string | undefined;
  deliver(item: FeedItem): void;
  /** Ids sent recently, with their times: the overlap of two reads is not sent twice. */
  sent: Map<string, number>;
  prunedAt: number;
}

/** When a ULID was made; an id no clock could have made (past the year 10889) reads as now. */
function timeOf(id: string): number {
  try {
    return decodeTime(id.toUpperCase());
  } catch {
    return Date.now();
  }
}

/** The smallest ULID of a moment: every id made at or after it sorts after it. */
function floorId(ms: number): string {
  return `${encodeTime(Math.max(0, ms), 10)}0000000000000000`;
}

export interface FeedFilter {
  /** undefined: every tenant. */
  tenantId: string | undefined;
  conversationId?: string;
}

export class ConversationFeed {
  private readonly subscribers = new Set<Subscriber>();
  /** Subscribers by tenant ('' for every tenant): an item is offered only to its tenant's streams. */
  private readonly byTenant = new Map<string, Set<Subscriber>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** When the last read that worked began: the next one reads from LOOKBACK_MS before it, however late it runs. */
  private readFrom = 0;
  private readonly now: () => number;

  constructor(private readonly deps: { events: EventService; messages: ConversationReadModel; logger: Logger; now?: () => number }) {
    this.now = deps.now ?? Date.now;
    deps.events.onEvent((event) => {
      if (this.subscribers.size > 0 && FEED_TYPE_SET.has(event.type)) this.read();
    });
  }

  /**
   * Starts delivering to `deliver`: first what came after `lastEventId` (and the few seconds before it,
   * for events that committed late; ids the client already has may repeat), then live. Returns the
   * function that stops it.
   */
  async subscribe(filter: FeedFilter, deliver: (item: FeedItem) => void, lastEventId?: string): Promise<() => void> {
    const { tenantId, conversationId } = filter;
    const sub: Subscriber = { tenantId, conversationId, deliver, sent: new Map(), prunedAt: this.now() };
    const key = tenantId ?? '';
    this.subscribers.add(sub);
    const group = this.byTenant.get(key) ?? new Set();
    group.add(sub);
    this.byTenant.set(key, group);
    this.schedule();
    const stop = () => {
      this.subscribers.delete(sub);
      group.delete(sub);
      if (group.size === 0 && this.byTenant.get(key) === group) this.byTenant.delete(key);
      if (this.subscribers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    if (lastEventId) {
      try {
        let after = floorId(timeOf(lastEventId) - LOOKBACK_MS);
        for (;;) {
          const page = await this.items(after, tenantId === undefined ? undefined : [tenantId]);
          for (const item of page) if (conversationId === undefined || item.event.conversationId === conversationId) this.send(sub, item);
          if (page.length < PAGE) break;
          after = page[page.length - 1]!.event.id;
        }
      } catch (err) {
        stop();
        throw err;
      }
    }
    return stop;
  }

  private schedule(): void {
    if (this.timer) return;
    this.readFrom = this.now();
    this.timer = setInterval(() => this.read(), POLL_MS);
    this.timer.unref();
  }

  /** One read at a time; a request during a read runs one more after it. */
  private read(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.readOnce()
      .catch((err) => this.deps.logger.warn({ err }, 'conversation feed read failed; trying again'))
      .finally(() => {
        this.running = undefined;
        if (this.again && this.subscribers.size > 0) {
          this.again = false;
          this.read();
        }
      });
  }

  private async readOnce(): Promise<void> {
    if (this.subscribers.size === 0) return;
    const tenants = this.byTenant.has('') ? undefined : [...this.byTenant.keys()];
    const started = this.now();
    let after = floorId(this.readFrom - LOOKBACK_MS);
    for (;;) {
      const page = await this.items(after, tenants);
      for (const item of page) {
        for (const key of ['', item.event.tenantId]) {
          for (const sub of this.byTenant.get(key) ?? []) {
            if (sub.conversationId === undefined || sub.conversationId === item.event.conversationId) this.send(sub, item);
          }
        }
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.event.id;
    }
    this.readFrom = started;
  }

  private async items(afterId: string, tenantIds: string[] | undefined): Promise<FeedItem[]> {
    const events = await this.deps.events.after({ afterId, types: FEED_TYPES, tenantIds, limit: PAGE });
    const ids = events.map((e) => e.data.message_id).filter((id): id is string => typeof id === 'string');
    const messages = new Map((await this.deps.messages.messagesByIds(ids, tenantIds)).map((m) => [m.id, m]));
    return events.map((event) => ({ event, message: typeof event.data.message_id === 'string' ? (messages.get(event.data.message_id) ?? null) : null }));
  }

  private send(sub: Subscriber, item: FeedItem): void {
    if (sub.sent.has(item.event.id)) return;
    const at = timeOf(item.event.id);
    sub.sent.set(item.event.id, at);
    // Forget, now and then, what no read can return again.
    const now = this.now();
    if (now - sub.prunedAt > LOOKBACK_MS) {
      sub.prunedAt = now;
      for (const [id, t] of sub.sent) if (t < now - 3 * LOOKBACK_MS) sub.sent.delete(id);
    }
    sub.deliver(item);
  }
}
