import type { SyncReport } from './knowledge-service.js';
import type { KnowledgeSource } from './knowledge-store.js';

/** Sources and sync reports as the API and `zia knowledge --json` show them. */

export function sourceView(s: KnowledgeSource) {
  return {
    id: s.id,
    kind: s.kind,
    location: s.location,
    status: s.status,
    max_pages: s.maxPages,
    sync_interval_hours: s.syncIntervalS === null ? null : s.syncIntervalS / 3600,
    page_count: s.pageCount,
    chunk_count: s.chunkCount,
    synced_at: s.syncedAt,
    next_sync_at: s.nextSyncAt,
    last_error: s.lastError,
    created_at: s.createdAt,
  };
}

export function reportView(r: SyncReport) {
  return {
    source: sourceView(r.source),
    indexed: r.indexed,
    unchanged: r.unchanged,
    removed: r.removed,
    skipped: r.skipped,
    failed: r.failed,
    ...(r.error ? { error: r.error } : {}),
    ...(r.busy ? { busy: true } : {}),
  };
}
