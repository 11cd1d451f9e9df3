// A fake OpenAI-compatible VLM in its own process, for the labelling benchmark: the server's CPU
// then does not compete with the labelling pipeline's event loop (as a real VLM server would not).
// It behaves like the test kit's fake upstream with `labelResponder`: the right option letter when
// the second image is a planned tile of the item named by "Item <n>:", a wrong one otherwise.
//
// argv: <plan.json> <latency ms>; prints the base URL on stdout once listening.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const latency = Number(process.argv[3] ?? 0);
const SIZES = [
  [150, 150],
  [151, 150],
  [150, 151],
  [151, 151],
];

/** Width and height from a JPEG's SOF marker (the runner sends JPEG). */
function jpegSize(b) {
  if (b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let o = 2;
  while (o + 9 < b.length) {
    if (b[o] !== 0xff) return undefined;
    const m = b[o + 1];
    if (m === 0xff) {
      o++;
      continue;
    }
    const len = (b[o + 2] << 8) | b[o + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return [(b[o + 7] << 8) | b[o + 8], (b[o + 5] << 8) | b[o + 6]];
    o += 2 + len;
  }
  return undefined;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const parts = body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [{ type: 'text', text: m.content }]));
    const text = parts
      .filter((p) => p.type === 'text')
      .map((p) => p.text)
      .join('\n');
    const images = parts.filter((p) => p.type === 'image_url').map((p) => p.image_url.url);
    const index = Number(/Item (\d+):/.exec(text)?.[1] ?? -1);
    const region = images[1] ? jpegSize(Buffer.from(images[1].slice(images[1].indexOf(',') + 1, images[1].indexOf(',') + 1 + 8192), 'base64')) : undefined;
    const tile = region ? SIZES.findIndex(([w, h]) => w === region[0] && h === region[1]) : -1;
    const item = plan[index];
    const letter = !item || tile < 0 ? 'Z' : String.fromCharCode(65 + (item.right.includes(tile) ? item.answer : (item.answer + 1) % item.choices.length));
    const reply = JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: letter }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 10 + images.length * 576, completion_tokens: 1, total_tokens: 11 + images.length * 576 },
    });
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
      res.end(reply);
    }, latency);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/v1\n`);
});
