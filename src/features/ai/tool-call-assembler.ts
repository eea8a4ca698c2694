/**
 * Streamed tool calls put back together, as servers actually send them. OpenAI numbers each call's
 * fragments with `index` and sends `id` and name in the first one only; other servers leave `index`
 * out (older Ollama, Gemini's compatibility endpoint, several proxies), send a whole call in one
 * fragment, give every call index 0 with distinct ids, repeat the name, or send arguments as an object.
 */

export interface AssembledCall {
  id: string;
  name: string;
  arguments: string;
}

/** One entry of `delta.tool_calls`, loosely typed: every field may be missing. */
export interface ToolCallFragment {
  index?: number | null;
  id?: string | null;
  type?: string | null;
  function?: { name?: string | null; arguments?: unknown } | null;
}

interface OpenCall extends AssembledCall {
  index?: number;
}

export class ToolCallAssembler {
  private readonly calls: OpenCall[] = [];

  push(fragments: readonly ToolCallFragment[] | null | undefined): void {
    for (const f of fragments ?? []) if (f && typeof f === 'object') this.add(f);
  }

  private add(f: ToolCallFragment): void {
    const call = this.callFor(f);
    const name = f.function?.name;
    // A name sent again in full is the same name; a name split over fragments is joined.
    if (name && call.name !== name) call.name += name;
    const args = f.function?.arguments;
    if (typeof args === 'string') call.arguments += args;
    else if (args !== undefined && args !== null) call.arguments += JSON.stringify(args);
  }

  /** The call a fragment continues: the one with its id, else with its index, else the last one; or a new one. */
  private callFor(f: ToolCallFragment): OpenCall {
    const id = f.id || undefined;
    const index = typeof f.index === 'number' ? f.index : undefined;
    if (id) {
      const same = this.calls.find((c) => c.id === id);
      if (same) return same;
      // A new id on an index already taken by another call is a new call (servers that number every call 0).
      const atIndex = index === undefined ? undefined : this.calls.findLast((c) => c.index === index);
      if (atIndex && !atIndex.id) {
        atIndex.id = id;
        return atIndex;
      }
      if (index === undefined && this.calls.length > 0 && !this.calls.at(-1)!.id && !f.function?.name) {
        this.calls.at(-1)!.id = id;
        return this.calls.at(-1)!;
      }
      return this.open({ id, index });
    }
    if (index !== undefined) return this.calls.findLast((c) => c.index === index) ?? this.open({ index });
    // No id, no index: a fragment naming a function starts a call once the last one is complete;
    // anything else continues the last.
    const last = this.calls.at(-1);
    if (last && !(f.function?.name && last.name && completeJson(last.arguments))) return last;
    return this.open({});
  }

  private open(from: { id?: string; index?: number }): OpenCall {
    const call: OpenCall = { id: from.id ?? '', name: '', arguments: '', index: from.index };
    this.calls.push(call);
    return call;
  }

  /** The calls that name a function, each with an id (made up where the server sent none). */
  result(): AssembledCall[] {
    const used = new Set(this.calls.map((c) => c.id).filter(Boolean));
    let n = 0;
    const fresh = () => {
      let id: string;
      do id = `call_${++n}`;
      while (used.has(id));
      used.add(id);
      return id;
    };
    return this.calls.filter((c) => c.name).map((c) => ({ id: c.id || fresh(), name: c.name, arguments: c.arguments }));
  }

  get size(): number {
    return this.calls.filter((c) => c.name).length;
  }
}

function completeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
