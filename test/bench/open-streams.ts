// Holds N chat streams open from a process of its own (the server under test must not share its event
// loop with N clients): `node --import=tsx open-streams.ts URL N [WINDOW]`. At most WINDOW streams are
// opening at once, so the server's listen backlog is not flooded. Prints `open <ok> <failed> <first error>`
// once every stream has its first token (or failed), then holds them until stdin closes or SIGTERM.
import { chatStream, type ChatStream } from './sse-client.js';

const [url, nArg = '100', windowArg = '200'] = process.argv.slice(2);
const n = Number(nArg);
const window = Number(windowArg);
const streams: ChatStream[] = [];
let ok = 0;
let failed = 0;
let firstError = '';
let next = 0;

await new Promise<void>((done) => {
  const launch = () => {
    if (next >= n) {
      if (ok + failed === n) done();
      return;
    }
    const s = chatStream(url!, `held stream ${next++}`);
    streams.push(s);
    s.firstToken.then(
      () => ok++,
      (e: Error) => {
        failed++;
        firstError ||= e.message;
      },
    ).finally(() => {
      if ((ok + failed) % 1000 === 0) process.stderr.write(`${ok + failed}/${n}\n`);
      launch();
    });
  };
  for (let i = 0; i < Math.min(window, n); i++) launch();
});
process.stdout.write(`open ${ok} ${failed} ${firstError.replace(/\s+/g, ' ').slice(0, 200)}\n`);

const close = () => {
  for (const s of streams) s.destroy();
  setTimeout(() => process.exit(0), 200);
};
process.stdin.on('end', close);
process.stdin.resume();
process.on('SIGTERM', close);
