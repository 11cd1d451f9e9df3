/**
 * Generates a small but real byte-level BPE tokenizer (the Qwen2 / GPT-2 family format) in the
 * Hugging Face `tokenizer.json` + `tokenizer_config.json` layout, with merges learned from a
 * fixed corpus so common prompt words become single tokens. Used by the tiny VLM fixtures.
 */

/** Special tokens, in id order after the BPE vocabulary. */
export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>'] as const;

/** The interleave-style chat template (Qwen2 chat markup, `<image>` placeholders in content order). */
export const LLAVA_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}" +
  "{% if message['content'] is string %}{{ message['content'] }}{% else %}" +
  "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<image>\\n' }}" +
  "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}" +
  "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const CORPUS = [
  'What is the colour of the sign in the image? Answer the question using a single word or phrase.',
  'Answer with the option letter from the given choices directly.',
  'The first image is an overview of the whole picture. The next images are zoomed-in regions of it:',
  'region at the top-left, top-right, bottom-left, bottom-right, center, left, right, top, bottom.',
  'Is there a dog in the image? Please answer yes or no. What does the text say? How many people are there?',
  'user assistant system The the a an of in on at to is are was with from for and or this that which where',
  'Options: A. red B. blue C. green D. yellow. Which option is correct? The answer is',
];

/** GPT-2's reversible byte -> printable unicode mapping. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i]!)));
  return table;
}

const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface TinyTokenizer {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly vocabSize: number;
  /** Token id of each special token (the base ones and `extraSpecialTokens`). */
  readonly specialIds: Record<(typeof SPECIAL_TOKENS)[number], number> & Record<string, number>;
}

export interface TinyTokenizerOptions {
  /** BPE merges to learn. Default 150. */
  readonly merges?: number;
  /** Written into tokenizer_config.json; `null` leaves it out (the template then lives elsewhere). */
  readonly chatTemplate?: string | null;
  /** More special tokens, after the base four (e.g. Idefics3's `<fake_token_around_image>`). */
  readonly extraSpecialTokens?: readonly string[];
  /** The end-of-turn token. Default `<|im_end|>`. */
  readonly eosToken?: string;
}

/**
 * Builds the tokenizer files. Deterministic: the same `merges` count always gives the same files.
 *
 * @example
 * ```ts
 * const tok = buildTinyTokenizer({ merges: 150 });
 * writeFileSync('tokenizer.json', JSON.stringify(tok.tokenizerJson));
 * ```
 */
export function buildTinyTokenizer(options: TinyTokenizerOptions = {}): TinyTokenizer {
  const byteChars = bytesToUnicode();
  const encoder = new TextEncoder();
  const words = new Map<string, number>();
  for (const line of CORPUS) {
    for (const piece of line.match(PRETOKENIZE) ?? []) {
      const mapped = [...encoder.encode(piece)].map((b) => byteChars[b]!).join('\u0000');
      words.set(mapped, (words.get(mapped) ?? 0) + 1);
    }
  }
  let segmented = [...words.entries()].map(([w, count]) => ({ parts: w.split('\u0000'), count }));

  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[byteChars[b]!] = b;
  const merges: [string, string][] = [];
  const wanted = options.merges ?? 150;
  while (merges.length < wanted) {
    const pairs = new Map<string, number>();
    for (const { parts, count } of segmented) {
      for (let i = 0; i + 1 < parts.length; i++) {
        const key = `${parts[i]}\u0000${parts[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    // Highest count first, ties broken by the pair text so the result never depends on Map order.
    const best = [...pairs.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))[0];
    if (!best || best[1] < 2) break;
    const [a, b] = best[0].split('\u0000') as [string, string];
    merges.push([a, b]);
    vocab[a + b] ??= Object.keys(vocab).length;
    segmented = segmented.map(({ parts, count }) => {
      const out: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(parts[i]!);
      }
      return { parts: out, count };
    });
  }

  const base = Object.keys(vocab).length;
  const specials = [...SPECIAL_TOKENS, ...(options.extraSpecialTokens ?? [])];
  const specialIds = Object.fromEntries(specials.map((t, i) => [t, base + i])) as TinyTokenizer['specialIds'];
  const added = specials.map((content, i) => ({
    id: base + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));

  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };

  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...rest }) => [String(id), rest])),
    bos_token: null,
    eos_token: options.eosToken ?? '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    additional_special_tokens: specials.slice(1),
    ...(options.chatTemplate === null ? {} : { chat_template: options.chatTemplate ?? LLAVA_CHAT_TEMPLATE }),
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    model_max_length: 4096,
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
  };

  return { tokenizerJson, tokenizerConfig, vocabSize: base + specials.length, specialIds };
}
