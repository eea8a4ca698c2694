import type { Logger } from '../../../logger.js';
import type { EventService } from '../../events/event-service.js';
import type { TenantService, Tenant } from '../../tenants/tenant-service.js';
import { PermanentJobError } from '../../jobs/jobs.types.js';
import type { OutboundMessage } from '../channel.types.js';
import type { ReplyPlan, ReplyTransport } from '../channel-sender.js';
import type { SendContext } from '../outbound-store.js';
import type { OutboundSends, SendOutcome } from '../outbound-sends.js';
import { GraphError, type GraphClient, type SendApiBody } from './graph-client.js';
import { charCount, splitText, utf8Bytes } from '../split-text.js';

/** What a Graph send needs to be made again (never the token: it is read from the tenant when sent). */
type GraphRequest =
  | { provider: 'graph'; op: 'message'; body: SendApiBody }
  | { provider: 'graph'; op: 'comment_reply'; platform: 'facebook' | 'instagram'; commentId: string; text: string };

export const LIMITS = {
  messenger: { limit: 2000, measure: charCount },
  instagram: { limit: 1000, measure: utf8Bytes },
} as const;

/**
 * Meta's side of every send: the page token, the once-only record in outbound_sends, and the events
 * of comment replies. Direct messages go through a ReplySender over a MetaDmTransport (bot replies,
 * payments, operators); the worker replies to comments here.
 */
export class GraphSends {
  constructor(
    private readonly tenants: TenantService,
    private readonly graph: GraphClient,
    private readonly outbound: OutboundSends,
    private readonly events: EventService,
    private readonly logger: Logger,
  ) {
    outbound.register('graph', {
      send: (tenant, request) => {
        const r = request as GraphRequest;
        const token = this.token(tenant);
        return r.op === 'message' ? this.graph.sendMessage(token, r.body) : this.graph.replyToComment(token, r.platform, r.commentId, r.text);
      },
      ambiguous: (err) => err instanceof GraphError && err.ambiguous,
      acceptedStatus: 'sent',
    });
  }

  token(tenant: Tenant): string {
    const token = this.tenants.secrets(tenant).fb_page_token;
    if (!token) throw new PermanentJobError(`tenant '${tenant.slug}' has no fb_page_token: set it with zia tenant update`);
    return token;
  }

  sendMessage(tenant: Tenant, key: string, channel: string, body: SendApiBody, ctx: SendContext): Promise<SendOutcome> {
    this.token(tenant);
    return this.outbound.once(tenant, key, channel, { provider: 'graph', op: 'message', body } satisfies GraphRequest, ctx);
  }

  /** A public reply is never re-sent automatically: a duplicate would be public. It is held instead. */
  replyToComment(tenant: Tenant, key: string, channel: 'fb_comment' | 'ig_comment', commentId: string, text: string, ctx: SendContext): Promise<SendOutcome> {
    this.token(tenant);
    const request: GraphRequest = { provider: 'graph', op: 'comment_reply', platform: channel === 'fb_comment' ? 'facebook' : 'instagram', commentId, text };
    return this.outbound.once(tenant, key, channel, request, ctx, { resendable: false });
  }

  async notSent(tenant: Tenant, conversationId: string | null, data: Record<string, unknown>): Promise<void> {
    await this.events.record(tenant.id, 'reply_not_sent', { conversationId, data });
    this.logger.info({ tenant: tenant.slug, ...data }, 'reply not sent');
  }

  async record(tenant: Tenant, type: 'reply_sent' | 'reply_failed' | 'public_reply_sent' | 'private_reply_sent' | 'comment_received', conversationId: string | null, data: Record<string, unknown>) {
    await this.events.record(tenant.id, type, { conversationId, data });
  }
}

/** Direct messages on Messenger or Instagram: the text split to the channel's limit, only inside the 24 h window. */
export class MetaDmTransport implements ReplyTransport<SendApiBody> {
  readonly accepted = { status: 'sent' };

  constructor(
    readonly channel: 'messenger' | 'instagram',
    private readonly meta: GraphSends,
  ) {}

  plan(msg: OutboundMessage, inWindow: boolean): ReplyPlan<SendApiBody> | undefined {
    if (!inWindow) return undefined;
    const { limit, measure } = LIMITS[this.channel];
    const parts = splitText(msg.text, limit, measure).map((text, i) => ({
      suffix: String(i),
      payload: { recipient: { id: msg.externalUserId }, messaging_type: 'RESPONSE', message: { text } } satisfies SendApiBody,
    }));
    return { parts, sent: { parts: parts.length } };
  }

  send(tenant: Tenant, key: string, body: SendApiBody, ctx: SendContext): Promise<SendOutcome> {
    return this.meta.sendMessage(tenant, key, this.channel, body, ctx);
  }

  /** Graph's code 10: the window closed on Meta's side before ours. */
  refusal(err: unknown) {
    if (!(err instanceof GraphError) || err.transient) return undefined;
    return { windowClosed: err.info.code === 10, reason: err.reason, code: String(err.info.code ?? 'error') };
  }
}
