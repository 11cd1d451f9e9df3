/**
 * The `semclip` entry: parses the command line with citty, runs one command, and is the
 * only place that prints errors and sets the exit code (see _errors.ts for the codes).
 */
import { readFileSync } from 'node:fs';
import { defineCommand, renderUsage, runCommand } from 'citty';
import type { ArgsDef } from 'citty';
import { SemclipError } from '@semclip/core';
import { closestMatch, launchDirectory, programName, wantsDeviceNotice } from './_args.js';
import { COMMANDS } from './_commands.js';
import type { AnyCommand } from './_commands.js';
import { EXIT, errorDetails, errorLine, exitCodeFor, normalizeError } from './_errors.js';
import { fitToWidth, layoutHelp, printJson, terminalWidth } from './_output.js';
import { cliAbortController } from './_signal.js';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const main: AnyCommand = defineCommand({
  meta: {
    name: 'semclip',
    version,
    description: 'Let vision-language models see fine detail: tile a high-resolution image, score the tiles against a question, select the best ones.',
  },
  subCommands: COMMANDS,
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ESC that starts ANSI colour codes, to strip them
const ANSI = /\u001b\[[0-9;]*m/g;

async function resolveValue<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === 'function' ? (value as () => T | Promise<T>)() : value;
}

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

interface Resolved {
  cmd: AnyCommand;
  parent: AnyCommand | undefined;
  /** e.g. ["eval", "run"] */
  path: string[];
}

/**
 * Finds the command the arguments are for, walking sub-commands the way citty's runCommand does
 * (citty 0.2.2, the newest release, does not export its walk). With `strict`, it also rejects
 * what citty would silently ignore, because its parser runs node:util parseArgs with
 * `strict: false`: unknown flags ("--gird 3x3" would run with the default grid), a value flag
 * without its value, `--no-` on a flag that is not a boolean, and more positionals than the
 * command declares ("select photo.jpg What is the wait time" would ask "What"). A command whose
 * last positional's valueHint ends in "..." (like `eval report FILE...`) takes any number.
 * Flags are read from citty's own arg definitions: the name, its camelCase and kebab-case forms,
 * aliases (one letter after "-"), `--flag=value`, `--no-<boolean>`; everything after `--` is positional.
 */
async function resolveCommand(rawArgs: readonly string[], strict: boolean): Promise<Resolved> {
  let cmd = main;
  let parent: AnyCommand | undefined;
  const path: string[] = [];
  let tokens = [...rawArgs];
  for (;;) {
    const args: ArgsDef = ((await resolveValue(cmd.args)) as ArgsDef | undefined) ?? {};
    const subs = ((await resolveValue(cmd.subCommands)) ?? {}) as Record<string, AnyCommand | (() => Promise<AnyCommand>)>;
    const hasSubs = Object.keys(subs).length > 0;
    const where = `"semclip${path.map((p) => ` ${p}`).join('')}"`;
    const usage = `Run "${programName()} ${[...path, '--help'].join(' ')}" for usage`;

    const kinds = new Map<string, 'boolean' | 'value'>();
    const positionalDefs: Array<{ name: string; valueHint?: string }> = [];
    for (const [name, def] of Object.entries(args)) {
      if (def.type === 'positional') positionalDefs.push({ name, valueHint: def.valueHint });
      else
        for (const n of [name, camel(name), kebab(name), ...('alias' in def && def.alias !== undefined ? [def.alias].flat() : [])])
          kinds.set(n, def.type === 'boolean' ? 'boolean' : 'value');
    }
    const longNames = [...kinds.keys()].filter((n) => n.length > 1 && n === kebab(n));
    const candidates = longNames.flatMap((n) => (kinds.get(n) === 'boolean' ? [`--${n}`, `--no-${n}`] : [`--${n}`]));

    const positionals: string[] = [];
    let subIndex = -1;
    for (let i = 0; i < tokens.length && subIndex < 0; i++) {
      const token = tokens[i] as string;
      if (token === '--') {
        positionals.push(...tokens.slice(i + 1));
        break;
      }
      if (!token.startsWith('-') || token === '-') {
        if (hasSubs) subIndex = i;
        else positionals.push(token);
        continue;
      }
      const [flag = token, value] = token.split(/=(.*)/s);
      const name = flag.startsWith('--') ? flag.slice(2) : flag.length === 2 ? flag.slice(1) : undefined;
      const negated = name?.startsWith('no-') === true && kinds.get(name.slice(3)) === 'boolean';
      if (negated && value !== undefined && strict) {
        throw new SemclipError('INVALID_ARGUMENT', `Option ${flag} takes no value.`, { hint: usage, details: { option: flag } });
      }
      const kind = negated ? 'boolean' : name === undefined ? undefined : kinds.get(name);
      if (kind === 'value' && value === undefined) {
        if (i + 1 >= tokens.length && strict) {
          throw new SemclipError('INVALID_ARGUMENT', `Option ${flag} needs a value.`, { hint: usage, details: { option: flag } });
        }
        i++;
      }
      if (kind === undefined && strict) {
        const suggestion = closestMatch(flag, candidates);
        const advice = suggestion ? ` Did you mean ${suggestion}?` : hasSubs ? ' Options go after the command name.' : '';
        throw new SemclipError('INVALID_ARGUMENT', `Unknown option ${flag} for ${where}.${advice}`, {
          hint: usage,
          details: { option: flag, ...(suggestion ? { suggestion } : {}) },
        });
      }
    }

    if (subIndex < 0) {
      const variadic = positionalDefs.at(-1)?.valueHint?.endsWith('...') === true;
      if (strict && !hasSubs && !variadic && positionals.length > positionalDefs.length) {
        const extra = positionals.slice(positionalDefs.length);
        const last = positionalDefs.at(-1);
        const message = last
          ? `Too many arguments for ${where}: it takes ${positionalDefs.map((p) => p.name.toUpperCase()).join(' ')}, and ${JSON.stringify(extra.join(' '))} is left over; did you forget quotes around the ${last.name}?`
          : `${where} takes no arguments, but got ${JSON.stringify(extra.join(' '))}.`;
        throw new SemclipError('INVALID_ARGUMENT', message, { hint: usage, details: { extra } });
      }
      return { cmd, parent, path };
    }

    const name = tokens[subIndex] as string;
    if (!Object.hasOwn(subs, name)) {
      const names = Object.keys(subs);
      const suggestion = closestMatch(name, names);
      throw new SemclipError(
        'INVALID_ARGUMENT',
        `There is no command "${[...path, name].join(' ')}".${suggestion ? ` Did you mean "${[...path, suggestion].join(' ')}"?` : ''}`,
        {
          expected: `one of: ${names.join(', ')}`,
          hint: `Run "${programName()} ${[...path, '--help'].join(' ')}" for the list`,
          details: { command: name, valid: names, ...(suggestion ? { suggestion } : {}) },
        },
      );
    }
    parent = cmd;
    cmd = (await resolveValue(subs[name])) as AnyCommand;
    path.push(name);
    tokens = tokens.slice(subIndex + 1);
  }
}

function wantsJson(rawArgs: readonly string[]): boolean {
  return rawArgs.includes('--json');
}

function report(err: unknown, rawArgs: readonly string[], path: readonly string[]): number {
  const usageHint = `Run "${programName()} ${[...path, '--help'].join(' ')}" for usage`;
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
      const resolved = await resolveCommand(
        flags.filter((a) => a !== '--help' && a !== '-h'),
        false,
      );
      // citty names a command after its direct parent only ("USAGE eval score"): give it the
      // whole path as the user types it.
      const name = [programName(), ...resolved.path.slice(0, -1)].join(' ');
      const parent = resolved.cmd === main ? undefined : { ...resolved.parent, meta: { name, version } };
      let text = await renderUsage(resolved.cmd === main ? { ...main, meta: { ...main.meta, name } } : resolved.cmd, parent);
      if (!process.stdout.isTTY) text = text.replace(ANSI, '');
      process.stdout.write(`${fitToWidth(layoutHelp(text), terminalWidth(process.stdout))}\n`);
      return EXIT.ok;
    }
    if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
      process.stdout.write(`${version}\n`);
      return EXIT.ok;
    }
    const resolved = await resolveCommand(rawArgs, true);
    path = resolved.path;
    if (resolved.cmd === main) {
      let text = await renderUsage({ ...main, meta: { ...main.meta, name: programName() } });
      if (!process.stderr.isTTY) text = text.replace(ANSI, '');
      if (!wantsJson(rawArgs)) process.stderr.write(`${fitToWidth(layoutHelp(text), terminalWidth(process.stderr))}\n\n`);
      throw new SemclipError('INVALID_ARGUMENT', 'No command given.', {
        expected: `a command: ${Object.keys(COMMANDS).join(', ')}`,
        hint: `Try "${programName()} demo"`,
      });
    }
    await runCommand(main, { rawArgs });
    return EXIT.ok;
  } catch (err) {
    return report(err, rawArgs, path);
  }
}

// A reader that stops early (`semclip tiles x.jpg | head -3`) closes the pipe: stop quietly, as
// other Unix tools do, instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
    throw err;
  });
}

let interrupted = false;
process.on('SIGINT', () => {
  // First Ctrl-C cancels cleanly (commands see an aborted signal); a second one quits now.
  if (interrupted) process.exit(EXIT.aborted);
  interrupted = true;
  cliAbortController.abort(new SemclipError('ABORTED', 'Interrupted (Ctrl-C).'));
});

const rawArgs = process.argv.slice(2);
// Relative paths (images, --out, --data, ...) are meant from where the user typed the command,
// which pnpm's root scripts do not run in; every path then resolves from there.
const launchedFrom = launchDirectory();
if (launchedFrom !== undefined) {
  try {
    process.chdir(launchedFrom);
  } catch {
    // INIT_CWD is gone or unreadable: keep the working directory
  }
}
if (wantsDeviceNotice(rawArgs)) process.env.SEMCLIP_DEVICE_NOTICE = '1';
process.exitCode = await run(rawArgs);
