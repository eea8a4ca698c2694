/**
 * Each tenant's share of the workers: at most its limit of jobs running at once across every worker on
 * the database, so one shop's flood cannot take every slot while another shop's customers wait. The
 * queues ask `full()` before they fetch and leave out the jobs of tenants at their limit; those jobs
 * stay queued (in order) until one of the tenant's running jobs ends.
 *
 * Where the counts come from:
 * - SQLite: one worker owns the file, so the jobs this process runs are all of them.
 * - PostgreSQL: the queue engine's own locks, read at most every `refreshMs` (`running`), plus the
 *   jobs this process started or finished since that read. A tenant can go over its limit only by jobs
 *   that other processes started within one refresh.
 */
export interface TenantSharesOptions {
  /** The tenant's limit (its setting or the default); asked for tenants that have jobs running. */
  limitOf: (tenantId: string) => Promise<number>;
  /** Jobs running now by tenant across every process (PostgreSQL); absent: this process's are all. */
  running?: () => Promise<Map<string, number>>;
  refreshMs?: number;
  /** How long a tenant's limit is reused before it is asked again (a settings change takes effect). */
  limitTtlMs?: number;
  now?: () => number;
}

export class TenantShares {
  /** This process's jobs by tenant, running or waiting in enter(). */
  private readonly local = new Map<string, number>();
  private readonly runningHere = new Map<string, number>();
  /** Jobs fetched in a race, waiting in enter() for a slot of their tenant here. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private shared = new Map<string, number>();
  /** This process's counts when `shared` was read: what changed since is added to it. */
  private localAtRead = new Map<string, number>();
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;
  private readonly limits = new Map<string, { limit: number; until: number }>();
  private readonly now: () => number;

  constructor(private readonly options: TenantSharesOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * A job of the tenant starts in this process: at once while this process runs fewer than the
   * tenant's limit of its jobs, otherwise when one of them ends. Fetches skip tenants at their share,
   * but several fetches can be out at once (the moment a worker starts, say); this keeps one process
   * from running more than the share even then.
   */
  async enter(tenantId: string): Promise<void> {
    bump(this.local, tenantId, 1);
    let limit: number;
    try {
      limit = await this.limit(tenantId);
    } catch (err) {
      bump(this.local, tenantId, -1); // the caller will not leave() a job that never entered
      throw err;
    }
    while ((this.runningHere.get(tenantId) ?? 0) >= limit) {
      await new Promise<void>((resolve) => {
        const list = this.waiting.get(tenantId) ?? [];
        list.push(resolve);
        this.waiting.set(tenantId, list);
      });
    }
    bump(this.runningHere, tenantId, 1);
  }

  /** A job of the tenant ended in this process (however it ended). */
  leave(tenantId: string): void {
    bump(this.local, tenantId, -1);
    bump(this.runningHere, tenantId, -1);
    const list = this.waiting.get(tenantId);
    const next = list?.shift();
    if (list && list.length === 0) this.waiting.delete(tenantId);
    next?.();
  }

  /** Jobs of the tenant running now, as far as this process knows. */
  count(tenantId: string): number {
    const mine = this.local.get(tenantId) ?? 0;
    if (!this.options.running) return mine;
    return Math.max(mine, (this.shared.get(tenantId) ?? 0) + mine - (this.localAtRead.get(tenantId) ?? 0));
  }

  /** Whether the tenant is known to be at its share now (no waiting on a limit not read yet). */
  atShare(tenantId: string): boolean {
    const known = this.limits.get(tenantId);
    return known !== undefined && this.count(tenantId) >= known.limit;
  }

  /** Whether one more job of the tenant may start now. */
  async hasRoom(tenantId: string): Promise<boolean> {
    return this.count(tenantId) < (await this.limit(tenantId));
  }

  /** Tenants at or over their limit: their jobs are not fetched now. */
  async full(): Promise<string[]> {
    await this.refresh();
    const tenants = new Set([...this.local.keys(), ...this.shared.keys()]);
    const out: string[] = [];
    for (const tenantId of tenants) if (!(await this.hasRoom(tenantId))) out.push(tenantId);
    return out;
  }

  private async limit(tenantId: string): Promise<number> {
    const now = this.now();
    const known = this.limits.get(tenantId);
    if (known && known.until > now) return known.limit;
    const limit = await this.options.limitOf(tenantId);
    this.limits.set(tenantId, { limit, until: now + (this.options.limitTtlMs ?? 5_000) });
    if (this.limits.size > 10_000) this.limits.clear();
    return limit;
  }

  private refresh(): Promise<void> {
    const running = this.options.running;
    if (!running || this.now() - this.readAt < (this.options.refreshMs ?? 250)) return Promise.resolve();
    this.reading ??= (async () => {
      const before = new Map(this.local);
      try {
        this.shared = await running();
        this.localAtRead = before;
        this.readAt = this.now();
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
