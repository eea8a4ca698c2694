import type { Knex } from 'knex';
import { newId, nowIso, readJson, readTime, writeJson } from '../../db/dialect.js';
import type { Db } from '../../db/create-db.js';
import { type Tx, on } from '../../db/unit-of-work.js';

/**
 * The `jobs` table. On SQLite it is the whole queue (queued → running → deleted on success, or dead);
 * on PostgreSQL the queue engine keeps live jobs in its own schema and this table keeps only the dead
 * ones, so "dead jobs" look the same to an operator on both. Jobs belong to no tenant: the payload
 * names what it works on.
 */
export interface JobRow {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  status: 'queued' | 'running' | 'dead';
  runAt: string;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  jobKey: string | null;
  /** Its serial queue: jobs of one queue run one at a time, in order. */
  queue: string | null;
  /** The tenant it works for (its share of the workers, see TenantShares). */
  tenantId: string | null;
  createdAt: string;
}

export interface JobCounts {
  queued: number;
  running: number;
  failed: number;
  dead: number;
}

function toRow(r: any): JobRow {
  return {
    id: r.id,
    kind: r.kind,
    payload: readJson(r.payload, {}),
    status: r.status,
    runAt: readTime(r.run_at)!,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    lastError: r.last_error ?? null,
    jobKey: r.job_key ?? null,
    queue: r.queue_name ?? null,
    tenantId: r.tenant_id ?? null,
    createdAt: readTime(r.created_at)!,
  };
}

export class JobStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Tx) {
    return on(this.db, trx)('jobs');
  }

  async insert(
    job: { kind: string; payload: Record<string, unknown>; status: 'queued' | 'dead'; runAt: string; maxAttempts: number; jobKey?: string; queue?: string; tenantId?: string | null; attempts?: number; lastError?: string },
    trx?: Tx,
  ): Promise<string | undefined> {
    if (job.jobKey && job.status === 'queued') {
      const pending = await this.q(trx).where({ job_key: job.jobKey }).whereIn('status', ['queued', 'running']).first('id');
      if (pending) return undefined;
    }
    const id = newId();
    const now = nowIso();
    await this.q(trx).insert({
      id,
      kind: job.kind,
      payload: writeJson(job.payload),
      status: job.status,
      run_at: job.runAt,
      attempts: job.attempts ?? 0,
      max_attempts: job.maxAttempts,
      last_error: job.lastError ?? null,
      job_key: job.jobKey ?? null,
      queue_name: job.queue ?? null,
      tenant_id: job.tenantId ?? null,
      created_at: now,
      updated_at: now,
    });
    return id;
  }

  /**
   * Due jobs of the given kinds, oldest first; a running job whose lease expired counts as due. Jobs
   * of the serial queues in `busy` (those the caller runs now) and of the tenants in `full` (at their
   * share) wait; of several due jobs of one queue the caller takes the first.
   */
  async due(kinds: string[], limit: number, now: string, busy: string[] = [], full: string[] = []): Promise<JobRow[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    // Two queries, each an ordered walk of an index, rather than one with an OR that scans and sorts
    // the whole table on every fetch (the queue is fetched after every job).
    const expired = await this.q().where('status', 'running').where('locked_until', '<', now).whereIn('kind', kinds).orderBy('run_at').limit(limit);
    const queued = this.q().where('status', 'queued').where('run_at', '<=', now).whereIn('kind', kinds);
    if (busy.length > 0) queued.where((w) => w.whereNull('queue_name').orWhereNotIn('queue_name', busy));
    if (full.length > 0) queued.where((w) => w.whereNull('tenant_id').orWhereNotIn('tenant_id', full));
    const rows = [...expired, ...(await queued.orderBy([{ column: 'run_at' }, { column: 'id' }]).limit(limit))];
    return rows.map(toRow);
  }

  /** Takes the job if nobody else did meanwhile; the lease lets another owner reclaim it after a crash. */
  async claim(id: string, workerId: string, lockedUntil: string, now: string): Promise<boolean> {
    const n = await this.q()
      .where({ id })
      .where((w) => w.where('status', 'queued').orWhere((b) => b.where('status', 'running').where('locked_until', '<', now)))
      .update({ status: 'running', locked_by: workerId, locked_until: lockedUntil, attempts: this.db.knex.raw('attempts + 1'), updated_at: now });
    return n === 1;
  }

  async extend(ids: string[], workerId: string, lockedUntil: string): Promise<void> {
    if (ids.length === 0) return;
    await this.q().whereIn('id', ids).where({ locked_by: workerId, status: 'running' }).update({ locked_until: lockedUntil });
  }

  async complete(id: string): Promise<void> {
    await this.q().where({ id }).delete();
  }

  async retry(id: string, runAt: string, error: string): Promise<void> {
    await this.q().where({ id }).update({ status: 'queued', run_at: runAt, locked_by: null, locked_until: null, last_error: error, updated_at: nowIso() });
  }

  async markDead(id: string, error: string): Promise<void> {
    await this.q().where({ id }).update({ status: 'dead', locked_by: null, locked_until: null, last_error: error, updated_at: nowIso() });
  }

  /** The sole owner starts: whatever a previous process held is free again at once. */
  async releaseAllRunning(): Promise<number> {
    return this.q().where({ status: 'running' }).update({ status: 'queued', locked_by: null, locked_until: null, updated_at: nowIso() });
  }

  async nextRunAt(kinds: string[]): Promise<string | null> {
    if (kinds.length === 0) return null;
    const row = await this.q().whereIn('kind', kinds).where('status', 'queued').min('run_at as next').first();
    return readTime(row?.next);
  }

  /**
   * Jobs by state, for the metrics gauges: queued (not yet tried), failed (tried, waiting to retry),
   * running, dead. One grouped count; on PostgreSQL only dead rows live here.
   */
  async countByState(): Promise<JobCounts> {
    const rows = await this.q()
      .select('status')
      .select(this.db.knex.raw('case when attempts > 0 then 1 else 0 end as tried'))
      .count({ n: '*' })
      .groupBy('status', 'tried');
    const counts: JobCounts = { queued: 0, running: 0, failed: 0, dead: 0 };
    for (const r of rows as Array<{ status: string; tried: unknown; n: unknown }>) {
      const state = r.status === 'queued' ? (Number(r.tried) ? 'failed' : 'queued') : r.status;
      if (state in counts) counts[state as keyof JobCounts] += Number(r.n);
    }
    return counts;
  }

  async listDead(limit = 100): Promise<JobRow[]> {
    return (await this.q().where({ status: 'dead' }).orderBy('updated_at', 'desc').limit(limit)).map(toRow);
  }

  async get(id: string): Promise<JobRow | undefined> {
    const r = await this.q().where({ id }).first();
    return r ? toRow(r) : undefined;
  }

  async delete(id: string, trx?: Tx): Promise<void> {
    await this.q(trx).where({ id }).delete();
  }

  // Heartbeats of the PostgreSQL queue engine's workers, on the database's clock: hosts whose clocks
  // disagree still agree on who stopped beating.
  async beat(workerIds: string[]): Promise<void> {
    if (workerIds.length === 0) return;
    const k = this.db.knex;
    await k('job_workers').insert(workerIds.map((worker_id) => ({ worker_id, beat_at: k.fn.now() }))).onConflict('worker_id').merge();
  }

  async forget(workerIds: string[]): Promise<void> {
    if (workerIds.length === 0) return;
    await this.db.knex('job_workers').whereIn('worker_id', workerIds).delete();
  }

  /** Worker ids that beat in the last `withinMs` milliseconds (PostgreSQL). */
  async alive(workerIds: string[], withinMs: number): Promise<Set<string>> {
    if (workerIds.length === 0) return new Set();
    const rows = await this.db
      .knex('job_workers')
      .whereIn('worker_id', workerIds)
      .whereRaw(`beat_at >= now() - ?::int * interval '1 millisecond'`, [withinMs])
      .select('worker_id');
    return new Set(rows.map((r: any) => r.worker_id));
  }

  /** Forgets workers silent for longer than `olderThanMs` (PostgreSQL). */
  async pruneBeats(olderThanMs: number): Promise<void> {
    await this.db.knex('job_workers').whereRaw(`beat_at < now() - ?::int * interval '1 millisecond'`, [olderThanMs]).delete();
  }
}
