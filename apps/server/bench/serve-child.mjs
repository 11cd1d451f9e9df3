// The server under load, in its own process so its memory is measured alone. Loopback only.
import { createServer } from '../dist/index.js';

const server = await createServer({
  scorer: 'random',
  host: '127.0.0.1',
  port: 0,
  allowSvg: process.env.BENCH_ALLOW_SVG === '1',
  limits: {
    ...(process.env.BENCH_CONCURRENCY ? { concurrency: Number(process.env.BENCH_CONCURRENCY) } : {}),
    ...(process.env.BENCH_QUEUE ? { maxQueue: Number(process.env.BENCH_QUEUE) } : {}),
    ...(process.env.BENCH_BODY_MEMORY ? { maxBodyMemoryBytes: Number(process.env.BENCH_BODY_MEMORY) } : {}),
  },
});
const { url } = await server.listen();
process.stdout.write(`${JSON.stringify({ url, concurrency: server.config.limits.concurrency, maxQueue: server.config.limits.maxQueue, allowSvg: server.config.allowSvg })}\n`);
process.on('SIGTERM', () => void server.close({ graceMs: 1000 }).then(() => process.exit(0)));
