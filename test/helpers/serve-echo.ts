/**
 * `zia serve` as a separate process, with the chat engine replaced by the EchoChatEngine test double
 * (everything else — config, database, inbox, worker, HTTP, Graph client — is the real code path). Used
 * by tests that need to kill -9 a server or run two servers on one database.
 */
import { serve } from '../../src/cli/commands/serve.js';
import { processIO } from '../../src/cli/io.js';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { EchoChatEngine } from './echo-chat-engine.js';

const io = processIO();
const config = loadConfig(io.env, io.cwd);
const logger = createLogger(config.LOG_LEVEL);
const services = createServices(config, logger, { chat: new EchoChatEngine() });
try {
  process.exitCode = await serve(services, io, { port: 0, host: '127.0.0.1', worker: true });
} finally {
  await services.close();
}
