export interface SseEvent {
  /** The `event:` field, null when the event has none (as every chat completion chunk). */
  event: string | null;
  data: string;
}

/**
 * Server-sent events read from text that arrives in pieces cut anywhere (within a line, between `\r`
 * and `\n`). What the chat completions stream needs of the format: `data:` lines (several are joined
 * with "\n"), `event:`, comments, any line ending, an event dispatched at its blank line; an event
 * left unfinished when the stream ends is dropped, as the format says.
 */
const NONE: readonly SseEvent[] = [];

export class SseEvents {
  private partial = '';
  private afterCr = false;
  private data: string | undefined;
  private event: string | null = null;
  /** The events the piece completes (a new array each time: a held stream should not keep its last chunk). */
  push(piece: string): readonly SseEvent[] {
    let text = piece;
    // A `\r\n` split between two pieces is one line ending, not two.
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1);
    if (text.length === 0) return NONE;
    this.afterCr = text.endsWith('\r');
    const lines = (this.partial + text).split(/\r\n|\r|\n/);
    this.partial = lines.pop()!;
    const ready: SseEvent[] = [];
    for (const line of lines) this.line(line, ready);
    return ready;
  }

  private line(line: string, ready: SseEvent[]): void {
    if (line === '') {
      if (this.data !== undefined) ready.push({ event: this.event, data: this.data });
      this.data = undefined;
      this.event = null;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data = this.data === undefined ? value : `${this.data}\n${value}`;
    else if (field === 'event') this.event = value;
  }
}
