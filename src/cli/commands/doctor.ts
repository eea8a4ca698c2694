import type { Command } from 'commander';
import type { AiCheckReport } from '../../features/ai/ai-check.js';
import { configFor } from '../context.js';
import { colors, printJson, println, type CliIO, type ExitHolder } from '../io.js';

export function registerDoctor(program: Command, io: CliIO, exit: ExitHolder): void {
  const doctor = program.command('doctor').description('Check that zia can reach what it depends on');
  doctor
    .command('ai')
    .option('--json', 'print JSON')
    .description('Send one tiny streamed request with a tool to the configured AI server and say which settings it needs')
    .action(async (opts: { json?: boolean }) => {
      const config = await configFor(io);
      if (config.aiProvider === 'offline') {
        const why = config.USE_MOCK ? 'USE_MOCK is set' : 'neither OPENAI_API_KEY nor OPENAI_BASE_URL is set';
        if (opts.json) printJson(io, { provider: 'offline', reason: why });
        else println(io.stdout, `The offline assistant answers (${why}); there is no AI server to check.`);
        return;
      }
      const [{ checkAi }, { openAiSettings }, { createLogger }] = await Promise.all([
        import('../../features/ai/ai-check.js'),
        import('../../features/ai/openai-provider.js'),
        import('../../logger.js'),
      ]);
      const report = await checkAi(openAiSettings(config), createLogger(io.env.LOG_LEVEL ? config.LOG_LEVEL : 'silent'));
      if (opts.json) printJson(io, report);
      else render(io, report);
      exit.code = report.ok ? 0 : 1;
    });
}

function render(io: CliIO, r: AiCheckReport): void {
  const c = colors(io);
  println(io.stdout, c.bold(`AI server ${r.baseURL}, model ${r.model}`));
  for (const line of r.lines) println(io.stdout, `  ${line.ok ? c.green('ok  ') : c.red('FAIL')}  ${line.name.padEnd(12)} ${line.detail}`);
  if (Object.keys(r.settings).length === 0) {
    println(io.stdout, '\nFix the failure above and run `zia doctor ai` again.');
    return;
  }
  println(io.stdout, `\nSettings for this server (environment or .env)${r.keySent ? ', with OPENAI_API_KEY as it is' : ''}:`);
  for (const [name, value] of Object.entries(r.settings)) println(io.stdout, `  ${name}=${value}`);
}
