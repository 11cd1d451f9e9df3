// A lean OpenAI-compatible upstream for the run benchmark, in its own thread (as a real VLM
// server runs on its own machine): it reads the request, waits a fixed latency and answers
// "A" with top logprobs. Unlike the test kit's fake it does not decode the images, so its
// CPU cost does not hide the engine's.
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const latencyMs = workerData.latencyMs;
let requests = 0;
let inFlight = 0;
let maxInFlight = 0;
const server = createServer((req, res) => {
  const chunks = [];
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const images = body.messages[0].content.filter((p) => p.type === 'image_url').length;
    requests++;
    setTimeout(() => {
      const top = ['A', 'B', 'C', 'D'].map((token, i) => ({ token, logprob: -0.1 - i }));
      const text = JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'A' },
            finish_reason: 'stop',
            logprobs: body.logprobs ? { content: [{ token: 'A', logprob: -0.1, top_logprobs: top }] } : null,
          },
        ],
        usage: { prompt_tokens: 10 + images * 576, completion_tokens: 1, total_tokens: 11 + images * 576 },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      inFlight--;
    }, latencyMs);
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'stats') parentPort.postMessage({ requests, maxInFlight });
  if (m === 'reset') {
    requests = 0;
    maxInFlight = inFlight;
  }
  if (m === 'close') server.close(() => process.exit(0));
});
