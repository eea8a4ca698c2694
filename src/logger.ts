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

/**
 * The log stream of `zia serve` and `zia worker`: JSON lines on stdout for a process manager or a log
 * shipper, or pino-pretty's readable lines when a person watches a terminal (LOG_FORMAT=auto decides
 * by whether stdout is a TTY). pino-pretty is loaded only then.
 */
export async function stdoutDestination(
  io: { stdout: NodeJS.WritableStream & { isTTY?: boolean }; env: NodeJS.ProcessEnv },
  format: 'auto' | 'json' | 'pretty',
): Promise<DestinationStream> {
  const toProcess = io.stdout === process.stdout;
  const pretty = format === 'pretty' || (format === 'auto' && Boolean(io.stdout.isTTY));
  if (!pretty) return toProcess ? pino.destination({ fd: 1, sync: false }) : (io.stdout as DestinationStream);
  const { default: prettyStream } = await import('pino-pretty');
  return prettyStream({
    destination: toProcess ? 1 : io.stdout,
    colorize: Boolean(io.stdout.isTTY) && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb',
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    sync: true,
  });
}
