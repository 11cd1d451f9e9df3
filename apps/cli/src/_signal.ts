/**
 * One AbortController for the whole run: the entry aborts it on the first Ctrl-C. Commands
 * pass `cliSignal()` to long work (scoring, downloads, evaluation) and check it between
 * units, so a cancelled run stops cleanly with ABORTED (exit 130).
 */
export const cliAbortController = new AbortController();

export function cliSignal(): AbortSignal {
  return cliAbortController.signal;
}
