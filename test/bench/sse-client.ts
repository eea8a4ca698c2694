import http from 'node:http';

export interface ChatStream {
  /** Milliseconds from sending the request to the first `event: token` received. */
  firstToken: Promise<number>;
  /** Resolves on `event: done`; rejects on `event: error`, a non-200 answer or a broken connection. */
  ended: Promise<void>;
  destroy(): void;
}

/**
 * One POST /v1/chat/stream over node:http on its own connection (a browser's widget opens one too).
 * The clock starts just before the request is written; only the last few characters are kept between
 * chunks, so thousands of these can stay open in one process.
 */
export function chatStream(url: string, message: string): ChatStream {
  const body = JSON.stringify({ message });
  let resolveFirst!: (ms: number) => void;
  let rejectFirst!: (e: Error) => void;
  let resolveEnd!: () => void;
  let rejectEnd!: (e: Error) => void;
  const firstToken = new Promise<number>((res, rej) => ((resolveFirst = res), (rejectFirst = rej)));
  const ended = new Promise<void>((res, rej) => ((resolveEnd = res), (rejectEnd = rej)));
  // Whoever does not wait for one of them must not see an unhandled rejection.
  firstToken.catch(() => {});
  ended.catch(() => {});
  let gotToken = false;
  let finished = false;
  const fail = (e: Error) => {
    finished = true;
    if (!gotToken) rejectFirst(e);
    rejectEnd(e);
  };

  const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  let t0 = 0;
  req.on('error', (e) => fail(e));
  req.on('response', (res) => {
    if (res.statusCode !== 200) {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => fail(new Error(`stream answered ${res.statusCode}: ${text.slice(0, 200)}`)));
      return;
    }
    res.setEncoding('utf8');
    let tail = '';
    res.on('data', (chunk: string) => {
      const text = tail + chunk;
      if (!gotToken && text.includes('event: token\n')) {
        gotToken = true;
        resolveFirst(performance.now() - t0);
      }
      if (text.includes('event: error\n')) fail(new Error(`error event: ${text.slice(text.indexOf('event: error'), 300)}`));
      else if (text.includes('event: done\n')) {
        finished = true;
        resolveEnd();
      }
      tail = text.slice(-16);
    });
    res.on('end', () => {
      if (!finished) fail(new Error('stream ended without done'));
    });
    res.on('error', (e) => fail(e));
  });
  t0 = performance.now();
  req.end(body);
  return {
    firstToken,
    ended,
    destroy: () => {
      finished = true;
      req.destroy();
    },
  };
}
