import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Secrets must never reach a log line: the paths below are redacted wherever they appear.
 * Free text is the caller's responsibility; nothing in zia logs a decrypted secret on purpose.
 */
const REDACT = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-twilio-signature"]',
  'req.headers["stripe-signature"]',
  '*.fb_page_token',
  '*.twilio_auth_token',
  '*.secrets',
  '*.access_token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'zia' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
