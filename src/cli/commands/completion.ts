import type { ExitHolder } from '../io.js';
import { Argument, type Command } from 'commander';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import type { CliIO } from '../io.js';

/** `zia completion bash|zsh|fish`: the script for the program's own command tree, at the time it runs. */
export function registerCompletion(program: Command, io: CliIO, exit: ExitHolder): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash, zsh or fish) for every zia command and option')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      `
Load it now:         source <(zia completion bash)      # or zsh
                     zia completion fish | source
Install it for good: zia completion bash > ~/.local/share/bash-completion/completions/zia
                     zia completion zsh > "\${fpath[1]}/_zia"
                     zia completion fish > ~/.config/fish/completions/zia.fish`,
    )
    .action((shell: Shell) => {
      io.stdout.write(completionScript(program, shell));
      exit.code = 0;
    });
}
