/**
 * The `semclip` entry: parses the command line with citty, runs one command, and is the
 * only place that prints errors and sets the exit code (see _errors.ts for the codes).
 */
import { readFileSync } from 'node:fs';
import { defineCommand, renderUsage, runCommand } from 'citty';
import type { ArgsDef, CommandDef } from 'citty';
import { SemclipError } from '@semclip/core';
import { COMMANDS } from './_commands.js';
import { EXIT, errorDetails, errorLine, exitCodeFor, normalizeError } from './_errors.js';
import { printJson } from './_output.js';
import { cliAbortController } from './_signal.js';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

// citty's value type for sub-commands is loose on purpose; see _commands.ts.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandDef<any>;

const main: AnyCommand = defineCommand({
  meta: {
    name: 'semclip',
    version,
    description: 'Let vision-language models see fine detail: tile a high-resolution image, score the tiles against a question, select the best ones.',
  },
  subCommands: COMMANDS,
});

const ANSI = /\u001b\[[0-9;]*m/g;

async function resolveValue<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === 'function' ? (value as () => T | Promise<T>)() : value;
}

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

interface Resolved {
  cmd: AnyCommand;
  parent: AnyCommand | undefined;
  /** e.g. ["select"] */
  path: string[];
  /** The arguments the leaf command parses. */
  rest: string[];
}

/** Index of the first positional (the sub-command name), skipping flags and their values, as citty does. */
function subCommandIndex(rawArgs: readonly string[], args: ArgsDef): number {
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] as string;
    if (arg === '--') return -1;
    if (arg.startsWith('-')) {
      if (!arg.includes('=') && isValueFlag(arg, args)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

function isValueFlag(flag: string, args: ArgsDef): boolean {
  const name = flag.replace(/^-{1,2}/, '');
  for (const [key, def] of Object.entries(args)) {
    if (def.type !== 'string' && def.type !== 'enum') continue;
    if (camel(name) === camel(key)) return true;
    const aliases = 'alias' in def && def.alias !== undefined ? [def.alias].flat() : [];
    if (aliases.includes(name)) return true;
  }
  return false;
}

/** Walks sub-commands like citty does, to find the command the arguments are for. */
async function resolveCommand(rawArgs: readonly string[]): Promise<Resolved> {
  let cmd = main;
  let parent: AnyCommand | undefined;
  let rest = [...rawArgs];
  const path: string[] = [];
  for (;;) {
    const subs = await resolveValue(cmd.subCommands);
    if (!subs || Object.keys(subs).length === 0) break;
    const args: ArgsDef = ((await resolveValue(cmd.args)) as ArgsDef | undefined) ?? {};
    const i = subCommandIndex(rest, args);
    if (i < 0) break;
    const name = rest[i] as string;
    if (!Object.hasOwn(subs, name)) {
      const names = Object.keys(subs);
      throw new SemclipError('INVALID_ARGUMENT', `There is no command "${[...path, name].join(' ')}".`, {
        expected: `one of: ${names.join(', ')}`,
        hint: `Run "semclip ${[...path, '--help'].join(' ')}" for the list`,
        details: { command: name, valid: names },
      });
    }
    const next = (await resolveValue(subs[name])) as AnyCommand;
    parent = cmd;
    cmd = next;
    path.push(name);
    rest = rest.slice(i + 1);
  }
  return { cmd, parent, path, rest };
}

/**
 * citty accepts unknown flags silently, so "--gird 3x3" would run with the default grid.
 * A typo must fail instead, naming the flag.
 */
async function checkFlags(resolved: Resolved): Promise<void> {
  const args: ArgsDef = ((await resolveValue(resolved.cmd.args)) as ArgsDef | undefined) ?? {};
  const known = new Map<string, 'boolean' | 'value'>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === 'positional') continue;
    const kind = def.type === 'boolean' ? 'boolean' : 'value';
    const aliases = 'alias' in def && def.alias !== undefined ? [def.alias].flat() : [];
    for (const n of [name, camel(name), kebab(name), ...aliases]) known.set(n, kind);
  }
  const usage = `Run "semclip ${[...resolved.path, '--help'].join(' ')}" for the options`;
  for (let i = 0; i < resolved.rest.length; i++) {
    const arg = resolved.rest[i] as string;
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) continue;
    const name = arg.replace(/^-{1,2}/, '').split('=')[0] as string;
    const negated = name.startsWith('no-') ? name.slice(3) : undefined;
    const kind = known.get(name) ?? (negated !== undefined && known.get(negated) === 'boolean' ? 'boolean' : undefined);
    if (kind === undefined) {
      throw new SemclipError('INVALID_ARGUMENT', `Unknown option ${arg.split('=')[0]} for "semclip ${resolved.path.join(' ')}".`, {
        hint: usage,
        details: { option: arg },
      });
    }
    if (kind === 'value' && !arg.includes('=')) {
      if (i + 1 >= resolved.rest.length) {
        throw new SemclipError('INVALID_ARGUMENT', `Option ${arg} needs a value.`, { hint: usage, details: { option: arg } });
      }
      i++;
    }
  }
}

function wantsJson(rawArgs: readonly string[]): boolean {
  return rawArgs.includes('--json');
}

function report(err: unknown, rawArgs: readonly string[], path: readonly string[]): number {
  const usageHint = `Run "semclip ${[...path, '--help'].join(' ')}" for usage`;
  const error = normalizeError(err, usageHint);
  if (rawArgs.includes('--verbose')) process.stderr.write(`${errorDetails(err)}\n`);
  if (wantsJson(rawArgs)) {
    printJson({ error: error.toJSON() });
  } else {
    process.stderr.write(`${errorLine(error)}\n`);
  }
  return exitCodeFor(error);
}

async function run(rawArgs: string[]): Promise<number> {
  let path: string[] = [];
  try {
    const dashdash = rawArgs.indexOf('--');
    const flags = dashdash < 0 ? rawArgs : rawArgs.slice(0, dashdash);
    if (flags.includes('--help') || flags.includes('-h')) {
      const resolved = await resolveCommand(flags.filter((a) => a !== '--help' && a !== '-h'));
      let text = await renderUsage(resolved.cmd, resolved.parent);
      if (!process.stdout.isTTY) text = text.replace(ANSI, '');
      process.stdout.write(`${text}\n`);
      return EXIT.ok;
    }
    if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
      process.stdout.write(`${version}\n`);
      return EXIT.ok;
    }
    const resolved = await resolveCommand(rawArgs);
    path = resolved.path;
    if (resolved.cmd === main) {
      let text = await renderUsage(main);
      if (!process.stderr.isTTY) text = text.replace(ANSI, '');
      if (!wantsJson(rawArgs)) process.stderr.write(`${text}\n\n`);
      throw new SemclipError('INVALID_ARGUMENT', 'No command given.', {
        expected: `a command: ${Object.keys(COMMANDS).join(', ')}`,
        hint: 'Try "semclip demo"',
      });
    }
    await checkFlags(resolved);
    await runCommand(main, { rawArgs });
    return EXIT.ok;
  } catch (err) {
    return report(err, rawArgs, path);
  }
}

let interrupted = false;
process.on('SIGINT', () => {
  // First Ctrl-C cancels cleanly (commands see an aborted signal); a second one quits now.
  if (interrupted) process.exit(EXIT.aborted);
  interrupted = true;
  cliAbortController.abort(new SemclipError('ABORTED', 'Interrupted (Ctrl-C).'));
});

process.exitCode = await run(process.argv.slice(2));
