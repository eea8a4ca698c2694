/** A live Server-Sent Events reader for tests: events as they arrive, with their ids. */
export interface LiveEvent {
  id: string | null;
  event: string;
  data: any;
}

export interface LiveStream {
  status: number;
  events: LiveEvent[];
  close(): void;
}

export async function openStream(url: string, headers: Record<string, string> = {}): Promise<LiveStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: LiveEvent[] = [];
  if (res.status === 200 && res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let id: string | null = null;
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length) events.push({ id, event, data: JSON.parse(data.join('\n')) });
          }
        }
      } catch {
        // closed by the test
      }
    })();
  } else {
    await res.body?.cancel();
  }
  return { status: res.status, events, close: () => controller.abort() };
}
