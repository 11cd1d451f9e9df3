import type { CommandDef } from 'citty';

/**
 * The command table of `semclip`. Each entry imports its module lazily, so `semclip tiles`
 * never loads ONNX Runtime and `--help` stays fast. A command module default-exports a citty
 * `defineCommand(...)`; it throws `SemclipError`s and never exits the process (cli.ts prints
 * errors and sets the exit code).
 *
 * To add a command: create `src/commands/<name>.ts` and add one line below, in the order it
 * should appear in `semclip --help`.
 */
/** Any command: each has its own args type, and citty's sub-command table takes them all. */
// biome-ignore lint/suspicious/noExplicitAny: citty's CommandDef is generic in the args; a table of different commands needs the loose form
export type AnyCommand = CommandDef<any>;
type LazyCommand = () => Promise<AnyCommand>;

export const COMMANDS: Record<string, LazyCommand> = {
  tiles: () => import('./commands/tiles.js').then((m) => m.default),
  select: () => import('./commands/select.js').then((m) => m.default),
  demo: () => import('./commands/demo.js').then((m) => m.default),
  ask: () => import('./commands/ask.js').then((m) => m.default),
  models: () => import('./commands/models.js').then((m) => m.default),
  eval: () => import('./commands/eval.js').then((m) => m.default),
  label: () => import('./commands/label.js').then((m) => m.default),
  train: () => import('./commands/train.js').then((m) => m.default),
  serve: () => import('./commands/serve.js').then((m) => m.default),
};
