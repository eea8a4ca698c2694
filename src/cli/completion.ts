import type { Command } from 'commander';

/**
 * Shell completion scripts generated from the commander tree at run time, so a new command, subcommand
 * or option completes as soon as it is registered. Each script works out the command path typed so far
 * (words that are not options and name a known subcommand), then offers that command's subcommands,
 * options and argument choices.
 */

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface OptionInfo {
  long?: string;
  short?: string;
  description: string;
  takesValue: boolean;
  choices?: readonly string[];
}

interface CommandInfo {
  /** Space-separated path below the program, '' for the program itself. */
  path: string;
  description: string;
  subcommands: Array<{ name: string; description: string }>;
  options: OptionInfo[];
  /** Values of positional arguments that have a fixed set (e.g. the shell here). */
  argChoices: string[];
}

export function commandTree(program: Command): CommandInfo[] {
  const out: CommandInfo[] = [];
  const visit = (cmd: Command, path: string[]) => {
    const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const options: OptionInfo[] = cmd.options
      .filter((o) => !o.hidden)
      .map((o) => ({ long: o.long, short: o.short, description: o.description, takesValue: o.required || o.optional, choices: o.argChoices }));
    options.push({ long: '--help', short: '-h', description: 'display help for command', takesValue: false });
    out.push({
      path: path.join(' '),
      description: cmd.description(),
      subcommands: visible.flatMap((c) => [c.name(), ...c.aliases()].map((name) => ({ name, description: c.description() }))),
      options,
      argChoices: cmd.registeredArguments.flatMap((a) => a.argChoices ?? []),
    });
    for (const sub of visible) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return out;
}

export function completionScript(program: Command, shell: Shell): string {
  const tree = commandTree(program);
  const name = program.name();
  if (shell === 'bash') return bash(name, tree);
  if (shell === 'zsh') return zsh(name, tree);
  return fish(name, tree);
}

const flags = (o: OptionInfo) => [o.long, o.short].filter((f): f is string => Boolean(f));
const valued = (tree: CommandInfo[]) => [...new Set(tree.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap(flags)))];
const fn = (name: string) => `_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;

/** Single-quoted for bash and zsh. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The path-walking shared by bash and zsh: `words`/`cword` are the shell's words and current index
 * (bash: COMP_WORDS/COMP_CWORD, 0-based; zsh: words/CURRENT, 1-based, passed the same way).
 */
function walk(tree: CommandInfo[], valuedFlags: string[]): string {
  const paths = tree.filter((c) => c.path).map((c) => sq(c.path));
  return `  local cmdpath="" i w next skip=0
  for ((i = first; i < cword; i++)); do
    w="\${words[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      ${valuedFlags.length ? `${valuedFlags.join('|')}) skip=1; continue ;;` : ''}
      -*) continue ;;
    esac
    next="\${cmdpath:+$cmdpath }$w"
    case "$next" in
      ${paths.join('|')}) cmdpath="$next" ;;
    esac
  done`;
}

function bash(name: string, tree: CommandInfo[]): string {
  const cases = tree.map((c) => {
    const words = [...c.subcommands.map((s) => s.name), ...c.argChoices, ...c.options.flatMap(flags)];
    return `    ${sq(c.path)}) cands=${sq(words.join(' '))} ;;`;
  });
  const choiceCases = tree.flatMap((c) => c.options.filter((o) => o.choices?.length).map((o) => `    ${sq(c.path)}:${flags(o).join(`|${sq(c.path)}:`)}) COMPREPLY=($(compgen -W ${sq(o.choices!.join(' '))} -- "$cur")); return ;;`));
  return `# ${name} completion for bash. Load it with:  source <(${name} completion bash)
# or save it as ~/.local/share/bash-completion/completions/${name}
${fn(name)}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local -a words=("\${COMP_WORDS[@]}")
  local first=1 cword=$COMP_CWORD
${walk(tree, valued(tree))}
${choiceCases.length ? `  case "$cmdpath:$prev" in\n${choiceCases.join('\n')}\n  esac\n` : ''}  local cands=""
  case "$cmdpath" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$cands" -- "$cur"))
}
complete -F ${fn(name)} ${name}
`;
}

function zsh(name: string, tree: CommandInfo[]): string {
  const cases = tree.map((c) => {
    const subs = c.subcommands.map((s) => sq(`${s.name.replace(/:/g, '\\:')}:${s.description}`));
    const opts = c.options.flatMap((o) => flags(o).map((f) => sq(`${f}:${o.description}`)));
    const args = c.argChoices.map(sq);
    return `    ${sq(c.path)})
      subs=(${subs.join(' ')})
      opts=(${opts.join(' ')})
      args=(${args.join(' ')}) ;;`;
  });
  return `#compdef ${name}
# ${name} completion for zsh. Load it with:  source <(${name} completion zsh)
# or save it as _${name} in a directory on $fpath (before compinit runs).
${fn(name)}() {
  local -a subs opts args
  local first=2 cword=$CURRENT
${walk(tree, valued(tree))}
  case "$cmdpath" in
${cases.join('\n')}
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    _describe -t options 'option' opts
  else
    (( \${#subs} )) && _describe -t commands 'command' subs
    (( \${#args} )) && compadd -a args
    (( \${#subs} + \${#args} )) || _describe -t options 'option' opts
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn(name)} "$@"
else
  compdef ${fn(name)} ${name}
fi
`;
}

/** Single-quoted for fish (only \\ and ' are special inside). */
const fq = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;

function fish(name: string, tree: CommandInfo[]): string {
  const f = `__${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
  const valuedFlags = valued(tree);
  const lines: string[] = [];
  for (const c of tree) {
    const at = `${f}_at ${fq(c.path)}`;
    for (const s of c.subcommands) lines.push(`complete -c ${name} -f -n ${fq(at)} -a ${fq(s.name)} -d ${fq(s.description)}`);
    if (c.argChoices.length) lines.push(`complete -c ${name} -f -n ${fq(at)} -a ${fq(c.argChoices.join(' '))}`);
    for (const o of c.options) {
      const parts = [`complete -c ${name} -n ${fq(at)}`];
      if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
      if (o.choices?.length) parts.push(`-x -a ${fq(o.choices.join(' '))}`);
      else if (o.takesValue) parts.push('-r');
      parts.push(`-d ${fq(o.description)}`);
      lines.push(parts.join(' '));
    }
  }
  return `# ${name} completion for fish. Load it with:  ${name} completion fish | source
# or save it as ~/.config/fish/completions/${name}.fish
set -g ${f}_paths ${tree.filter((c) => c.path).map((c) => fq(c.path)).join(' ')}
set -g ${f}_valued ${valuedFlags.map(fq).join(' ')}

# The command path typed so far: words that are not options (nor an option's value) and name a subcommand.
function ${f}_path
    set -l tokens (commandline -opc)
    set -l cmdpath
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if contains -- $w $${f}_valued
            set skip 1
            continue
        end
        string match -q -- '-*' $w; and continue
        set -l next (string join ' ' $cmdpath $w)
        if contains -- "$next" $${f}_paths
            set cmdpath $cmdpath $w
        end
    end
    string join ' ' $cmdpath
end

function ${f}_at
    set -l p (${f}_path)
    test "$p" = "$argv[1]"
end

complete -c ${name} -e
${lines.join('\n')}
`;
}
