import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  body: string;
  json: any;
  signature: string;
  deliveryId: string;
  event: string;
  /** Whether zia-signature verified against the secret, checked the way a tenant's endpoint would. */
  valid: boolean;
}

/**
 * A tenant's own endpoint for zia's outbound webhooks: verifies `zia-signature: t=…,v1=…` (HMAC-SHA256
 * of "<t>.<body>" with the shared secret, constant-time, timestamp within 5 minutes), records every
 * request, and answers whatever status it is told to (500 to make zia retry).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Statuses for the next requests, in order; afterwards `status`. */
  readonly script: number[] = [];
  status = 200;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly secret: string,
  ) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    let me!: WebhookReceiver;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['zia-signature'] ?? '');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as is; the test sees json null
      }
      me.received.push({ body, json, signature, deliveryId: String(req.headers['zia-delivery-id'] ?? ''), event: String(req.headers['zia-event'] ?? ''), valid: me.verify(body, signature) });
      res.writeHead(req.method === 'POST' && req.headers['content-type'] === 'application/json' ? (me.script.shift() ?? me.status) : 400).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    me = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/zia`, secret);
    return me;
  }

  verify(body: string, header: string): boolean {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    if (!m) return false;
    if (Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
    const expected = createHmac('sha256', this.secret).update(`${m[1]}.${body}`).digest();
    return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
