/**
 * Limits of one combined statement. PostgreSQL takes at most 65,535 bindings per statement; the
 * planner's time grows with the number of CTEs, and a database slow for a moment should not be sent
 * one enormous statement either.
 */
const MAX_CALLERS = 200;
const MAX_BINDINGS = 30_000;

interface Waiting<I, R> {
  item: I;
  bindings: number;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Statements that can be combined (PostgreSQL): while one is out, the callers that arrive wait, and the
 * next statement carries all of them. A quiet server sends each at once; under load the database gets one
 * statement (one parse, one plan, one commit) for many callers instead of one each. A combined statement
 * is atomic, so when it fails nothing was written: it is then run again once per caller, and each caller
 * gets its own outcome.
 *
 * `run(items)` must write every item in one statement and resolve with one result per item, in order.
 */
export class StatementBatcher<I, R> {
  private readonly waiting: Array<Waiting<I, R>> = [];
  private out = false;

  constructor(private readonly run: (items: I[]) => Promise<R[]>) {}

  /** `bindings`: how many the item adds to the statement (see MAX_BINDINGS). */
  submit(item: I, bindings: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, bindings, resolve, reject });
      this.send();
    });
  }

  private send(): void {
    if (this.out || this.waiting.length === 0) return;
    let count = 0;
    let bindings = 0;
    // The first caller always goes, whatever its size.
    while (count < this.waiting.length && count < MAX_CALLERS && (count === 0 || bindings + this.waiting[count]!.bindings <= MAX_BINDINGS)) {
      bindings += this.waiting[count]!.bindings;
      count++;
    }
    const batch = this.waiting.splice(0, count);
    this.out = true;
    void this.runBatch(batch).finally(() => {
      this.out = false;
      this.send();
    });
  }

  private async runBatch(batch: Array<Waiting<I, R>>): Promise<void> {
    try {
      const results = await this.run(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      else await Promise.all(batch.map((w) => this.run([w.item]).then((r) => w.resolve(r[0]!), w.reject)));
    }
  }
}
