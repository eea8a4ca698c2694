import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Services } from '../../container.js';
import type { CaseFile, EvalReport } from '../../features/eval/eval.types.js';
import { withContext } from '../context.js';
import { interactive, outputFile, printJson, println, UsageError, type CliIO, type ExitHolder } from '../io.js';
import { readSettingsFile } from './tenant.js';

/** The most messages read of a conversation to record: far more than the turns a case holds. */
const MAX_READ_MESSAGES = 2_000;

interface EvalOptions {
  provider?: string;
  model?: string;
  settings?: string;
  compare?: string;
  repeat: string;
  concurrency: string;
  minPassRate: string;
  json?: boolean;
  junit?: string;
}

interface Play {
  slug: string;
  casesPath: string;
  file: CaseFile;
  provider: 'openai' | 'offline';
  model?: string;
  repeat: number;
  concurrency: number;
  minPassRate: number;
}

export function registerEval(program: Command, io: CliIO, exit: ExitHolder): void {
  const evalCommand = program
    .command('eval')
    .description("Test a tenant's bot against a file of conversations, in a throwaway copy: only the model is called, nothing reaches a customer, a channel or Stripe")
    .argument('<slug>')
    .argument('<cases>', 'the YAML case file')
    .option('--provider <name>', 'offline or openai (default: the configured one)')
    .option('--model <model>', 'the OpenAI-compatible model to ask (default OPENAI_MODEL)')
    .option('--settings <file>', 'try a settings change (JSON, merged as `zia tenant update --settings` does) without saving it')
    .option('--compare <file>', 'also run with this settings change and list the cases whose outcome changed')
    .option('--repeat <n>', 'play each case n times; a case passes at --min-pass-rate', '1')
    .option('--concurrency <n>', 'plays at once', '4')
    .option('--min-pass-rate <rate>', 'the share of a case’s plays that must pass, 0–1', '1')
    .option('--json', 'print JSON')
    .option('--junit <file>', 'also write JUnit XML for CI')
    .action(async (slug: string, casesPath: string, opts: EvalOptions) => {
      const repeat = wholeNumber(opts.repeat, '--repeat', 1, 100);
      const concurrency = wholeNumber(opts.concurrency, '--concurrency', 1, 64);
      const minPassRate = Number(opts.minPassRate);
      if (!(minPassRate >= 0 && minPassRate <= 1)) throw new UsageError(`--min-pass-rate must be a number from 0 to 1, got '${opts.minPassRate}'`);
      if (opts.provider !== undefined && opts.provider !== 'offline' && opts.provider !== 'openai') throw new UsageError(`--provider must be offline or openai, got '${opts.provider}'`);
      const file = await readCases(io, casesPath);
      if (!file) {
        exit.code = 2;
        return;
      }
      exit.code = await withContext(
        io,
        async (services) => {
          const provider = opts.provider === 'openai' || opts.provider === 'offline' ? opts.provider : services.config.aiProvider;
          if (provider === 'openai' && !services.config.OPENAI_API_KEY && !services.config.OPENAI_BASE_URL) throw new UsageError('--provider openai needs OPENAI_API_KEY or OPENAI_BASE_URL');
          if (provider === 'offline' && opts.model) throw new UsageError('--model is for the openai provider; the offline one has no models');
          const play: Play = { slug, casesPath, file, provider, model: opts.model, repeat, concurrency, minPassRate };
          const settings = opts.settings ? await readSettingsFile(io, opts.settings, '--settings') : undefined;
          const compare = opts.compare ? await readSettingsFile(io, opts.compare, '--compare') : undefined;
          const { reportView, printReport, junitXml, compareReports, printComparison } = await import('../../features/eval/eval-output.js');
          const before = await evaluate(io, services, play, settings);
          const after = compare ? await evaluate(io, services, play, compare) : undefined;
          const decisive = after ?? before;
          if (opts.junit) await writeFile(path.resolve(io.cwd, opts.junit), junitXml(decisive));
          if (!after) {
            if (opts.json) printJson(io, reportView(before));
            else printReport(io, before);
          } else {
            const changed = compareReports(before, after);
            if (opts.json) printJson(io, { before: reportView(before), after: reportView(after), changed });
            else {
              println(io.stdout, `with ${opts.compare}:`);
              printReport(io, after);
              println(io.stdout);
              printComparison(io, changed, { before: opts.settings ?? 'current settings', after: opts.compare! });
            }
          }
          // With --compare, the settings being tried decide: they are the ones about to be saved.
          return decisive.cases.every((c) => c.ok) ? 0 : 1;
        },
        // The real database is only read: a pending migration is the operator's to run.
        { migrate: false },
      );
    });

  evalCommand
    .command('record')
    .description('Turn real conversations into cases for `zia eval`, personal data (emails, phone numbers, names) replaced with placeholders')
    .argument('<slug>')
    .argument('<conversation-ids...>')
    .requiredOption('-o, --output <file>', 'the YAML file to write (- for stdout)')
    .option('--force', 'replace the file if it exists')
    .action(async (slug: string, ids: string[], opts: { output: string; force?: boolean }) => {
      const target = outputFile(io, opts.output, opts.force);
      exit.code = await withContext(
        io,
        async (services) => {
          const yaml = await recordConversations(services, slug, ids);
          if (target) {
            await writeFile(target, yaml);
            println(io.stderr, `wrote ${ids.length} case(s) to ${opts.output}; check the expectations, then run \`zia eval ${slug} ${opts.output}\``);
          } else io.stdout.write(yaml);
          return 0;
        },
        { migrate: false },
      );
    });
}

/** The case file, or undefined after printing every problem in it (exit 2). */
async function readCases(io: CliIO, casesPath: string): Promise<CaseFile | undefined> {
  const text = await readFile(path.resolve(io.cwd, casesPath), 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${casesPath} (${err.code ?? err.message})`);
  });
  const { parseCaseFile, CaseFileError } = await import('../../features/eval/eval-cases.js');
  try {
    return parseCaseFile(text, casesPath);
  } catch (err) {
    if (!(err instanceof CaseFileError)) throw err;
    for (const line of err.message.split('\n')) println(io.stderr, `zia: ${line}`);
    return undefined;
  }
}

async function evaluate(io: CliIO, services: Services, play: Play, settings: Record<string, unknown> | undefined): Promise<EvalReport> {
  const [{ EvalSandbox }, { runCases }, { estimateCost }] = await Promise.all([
    import('../../features/eval/eval-sandbox.js'),
    import('../../features/eval/eval-runner.js'),
    import('../../features/ai/model-prices.js'),
  ]);
  const started = performance.now();
  const { config, logger, db } = services;
  const sandbox = await EvalSandbox.open({ config, logger, source: db, slug: play.slug, provider: play.provider, model: play.model, settings });
  const progress = interactive(io) ? (done: number, total: number) => io.stderr.write(`\rplayed ${done}/${total}${done === total ? '\n' : ''}`) : undefined;
  try {
    const cases = await runCases(sandbox, play.file, { repeat: play.repeat, concurrency: play.concurrency, minPassRate: play.minPassRate, onPlayed: progress });
    const usage = await sandbox.modelUsage();
    return {
      tenant: play.slug,
      file: play.casesPath,
      provider: play.provider,
      model: sandbox.model.model,
      repeat: play.repeat,
      minPassRate: play.minPassRate,
      cases,
      // Priced again from the tokens: a model without a price is "unknown" here, not the counters' 0.
      usage: usage.map((u) => ({
        model: u.model,
        requests: u.requests,
        inputTokens: u.tokens_in,
        outputTokens: u.tokens_out,
        costUsd: estimateCost(u.model, { input: u.tokens_in, output: u.tokens_out }, config.ZIA_MODEL_PRICES),
      })),
      ms: performance.now() - started,
    };
  } finally {
    await sandbox.close();
  }
}

/** The conversations as a case file; another tenant's conversation is as unknown as a made-up id. */
async function recordConversations(services: Services, slug: string, ids: string[]): Promise<string> {
  const { recordCases } = await import('../../features/eval/eval-record.js');
  const tenant = await services.tenants.get(slug);
  const conversations = [];
  for (const id of ids) {
    const conversation = await services.conversations.get(tenant.id, id);
    const leads = await services.leads.forConversation(tenant.id, id);
    // recordCases keeps a case's first turns and says in the file how many there were.
    const messages = await services.conversationReads.messages(tenant.id, id, MAX_READ_MESSAGES);
    conversations.push({
      id,
      channel: conversation.channel,
      userName: conversation.userName,
      messages: messages.map((m) => ({ role: m.role, text: m.text })),
      known: {
        names: leads.flatMap((l) => (l.name ? [l.name] : [])),
        emails: leads.map((l) => l.email),
        phones: [...leads.map((l) => l.whatsapp), conversation.channel === 'whatsapp' ? conversation.externalUserId : null].filter((p): p is string => Boolean(p)),
      },
    });
  }
  // Item names are read from the stored copy: recording never fetches anything.
  const itemNames = ((await services.catalog.stored(tenant))?.items ?? []).map((i) => i.name);
  return recordCases(conversations, { itemNames }, { tenant: slug, recordedAt: new Date().toISOString() });
}

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}
