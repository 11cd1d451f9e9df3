import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { SemclipError } from '@semclip/core';
import type { ModelManifest } from '@semclip/hub';
import { DTYPES, isDtype, onnxFileName } from '@semclip/runtime';
import type { Dtype } from '@semclip/runtime';

/** The ONNX weight variants a local session can load (@semclip/runtime's dtype table). */
export type LocalDtype = Dtype;
export const LOCAL_DTYPES: readonly LocalDtype[] = DTYPES;

/** The three ONNX sessions of an image-text-to-text model, as transformers.js names them. */
export type LocalSession = 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged';
/** The session names `dtype` may be given per. */
export const LOCAL_SESSIONS: readonly LocalSession[] = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];
const SESSIONS = LOCAL_SESSIONS;

/**
 * Reads a dtype as written on a command line: one variant for every session (`q4`), or
 * `session=variant` pairs separated by commas (`vision_encoder=fp16,decoder_model_merged=q4`).
 * INVALID_ARGUMENT names what is wrong.
 *
 * @example
 * ```ts
 * parseDtypeSpec('q4'); // 'q4'
 * parseDtypeSpec('vision_encoder=fp16,decoder_model_merged=q4'); // { vision_encoder: 'fp16', decoder_model_merged: 'q4' }
 * ```
 */
export function parseDtypeSpec(text: string): LocalDtype | Partial<Record<LocalSession, LocalDtype>> {
  const value = typeof text === 'string' ? text.trim() : '';
  const expected = `one of ${LOCAL_DTYPES.join(', ')}, or session=dtype pairs like vision_encoder=fp16,decoder_model_merged=q4 (sessions: ${SESSIONS.join(', ')})`;
  if (!value.includes('=')) {
    if (isDtype(value)) return value;
    throw new SemclipError('INVALID_ARGUMENT', `dtype "${value}" is not a weight variant.`, { expected });
  }
  const out: Partial<Record<LocalSession, LocalDtype>> = {};
  for (const part of value.split(',')) {
    const [session = '', dtype = '', ...extra] = part.split('=').map((x) => x.trim());
    if (extra.length > 0 || !(SESSIONS as readonly string[]).includes(session) || !isDtype(dtype) || Object.hasOwn(out, session)) {
      throw new SemclipError('INVALID_ARGUMENT', `dtype "${value}" is not valid at "${part.trim()}".`, { expected });
    }
    out[session as LocalSession] = dtype;
  }
  return out;
}

/** Preference when nothing is asked for: full precision first, then the larger quantisations. */
const PREFERENCE: readonly LocalDtype[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4f16', 'q4', 'bnb4'];

export function isDirectoryPath(model: string): boolean {
  return path.isAbsolute(model) || model.startsWith('./') || model.startsWith('../') || model === '.' || model.startsWith('~/');
}

/**
 * Picks the weight variant of each ONNX session from the files that are actually there:
 * the caller's choice, else the manifest's default, else the first present in PREFERENCE.
 * MODEL_INVALID names what is missing when a session has no file at all.
 */
export function pickDtypes(
  dir: string,
  sessions: readonly string[],
  requested: LocalDtype | Partial<Record<string, LocalDtype>> | undefined,
  manifestDefault: LocalDtype | undefined,
  modelLabel: string,
  pullHint: string,
): Record<string, LocalDtype> {
  const onnxDir = path.join(dir, 'onnx');
  const present = new Set(existsSync(onnxDir) ? readdirSync(onnxDir) : []);
  const out: Record<string, LocalDtype> = {};
  for (const session of sessions) {
    const has = (d: LocalDtype) => present.has(onnxFileName(session, d));
    const wanted = typeof requested === 'string' ? requested : requested?.[session];
    if (wanted !== undefined) {
      if (!isDtype(wanted)) {
        throw new SemclipError('INVALID_ARGUMENT', `Unknown dtype "${String(wanted)}" for ${session}.`, { expected: `one of ${LOCAL_DTYPES.join(', ')}` });
      }
      if (!has(wanted)) {
        const available = LOCAL_DTYPES.filter(has);
        throw new SemclipError('MODEL_INVALID', `Model ${modelLabel} has no ${wanted} weights for ${session} (onnx/${onnxFileName(session, wanted)}).`, {
          expected: available.length ? `one of the variants present: ${available.join(', ')}` : `onnx/${session}*.onnx`,
          hint: available.length ? `Pass dtype ${available[0]} or pull a manifest that includes ${wanted}` : pullHint,
          details: { session, dtype: wanted, available },
        });
      }
      out[session] = wanted;
      continue;
    }
    const pick = manifestDefault && has(manifestDefault) ? manifestDefault : PREFERENCE.find(has);
    if (!pick) {
      throw new SemclipError(
        'MODEL_INVALID',
        `Model ${modelLabel} in ${dir} has no ONNX file for ${session} (expected onnx/${session}.onnx or a quantised variant like onnx/${session}_q4.onnx).`,
        {
          hint: pullHint,
          details: { dir, session },
        },
      );
    }
    out[session] = pick;
  }
  return out;
}

export function readJson(dir: string, file: string): Record<string, unknown> | undefined {
  const p = path.join(dir, file);
  if (!existsSync(p)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(p, 'utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch (cause) {
    throw new SemclipError('MODEL_INVALID', `${p} is not valid JSON: ${(cause as Error).message}.`, {
      cause,
      hint: 'Re-download the model (semclip models verify <id>, then semclip models pull <id>)',
    });
  }
}

/**
 * The chat template the model was trained with: the tokenizer's own, else the processor's
 * `chat_template.jinja` / `chat_template.json` (llava-hf and SmolVLM repositories keep it there).
 */
export function findChatTemplate(dir: string, tokenizerTemplate: unknown): string | undefined {
  if (typeof tokenizerTemplate === 'string' && tokenizerTemplate.trim()) return tokenizerTemplate;
  const jinja = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const json = readJson(dir, 'chat_template.json');
  if (typeof json?.chat_template === 'string') return json.chat_template;
  return undefined;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export type { ModelManifest };
