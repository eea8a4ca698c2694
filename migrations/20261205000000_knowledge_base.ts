import type { Knex } from 'knex';

/**
 * A tenant's knowledge base: the sources it names (a page, a sitemap, a site to crawl, an uploaded
 * file), the documents each yields (one per page or file, with what a conditional re-fetch needs) and
 * their chunks, searchable in full text inside the database: an FTS5 index over the chunks on SQLite
 * (kept in step by triggers), a stored tsvector with a GIN index on PostgreSQL, in each chunk's own
 * language. Embeddings, when a model makes them, are float32 vectors beside the chunk.
 */
export const tables = ['knowledge_sources', 'knowledge_documents', 'knowledge_chunks', 'knowledge_chunks_fts'];

export async function up(knex: Knex): Promise<void> {
  const pg = knex.client.config.client === 'pg';
  await knex.schema.createTable('knowledge_sources', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('kind', 16).notNullable();
    // The URL, or an uploaded file's name.
    t.text('location').notNullable();
    t.integer('max_pages').notNullable();
    t.integer('sync_interval_s');
    t.string('status', 16).notNullable();
    t.text('last_error');
    t.integer('page_count').notNullable().defaultTo(0);
    t.integer('chunk_count').notNullable().defaultTo(0);
    t.timestamp('synced_at', { useTz: true });
    t.timestamp('next_sync_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.unique(['tenant_id', 'location']);
  });
  await knex.schema.createTable('knowledge_documents', (t) => {
    t.string('id', 26).primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('source_id', 26).notNullable().references('id').inTable('knowledge_sources').onDelete('CASCADE');
    t.text('url').notNullable();
    t.text('title').notNullable();
    t.string('language', 16);
    t.text('etag');
    t.text('last_modified');
    t.string('content_hash', 64);
    t.integer('bytes').notNullable().defaultTo(0);
    // indexed | skipped (with skip_reason: too large, no text, noindex, not allowed by robots.txt …)
    t.string('status', 16).notNullable();
    t.text('skip_reason');
    t.integer('chunk_count').notNullable().defaultTo(0);
    // The page's links (JSON): a crawl goes on from a page that answered 304 without fetching it.
    t.text('links');
    t.timestamp('fetched_at', { useTz: true }).notNullable();
    t.unique(['source_id', 'url']);
    t.index(['tenant_id']);
  });
  await knex.schema.createTable('knowledge_chunks', (t) => {
    // An integer key: SQLite's FTS5 index refers to chunks by rowid.
    t.bigIncrements('id').primary();
    t.string('tenant_id', 26).notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('document_id', 26).notNullable().references('id').inTable('knowledge_documents').onDelete('CASCADE');
    t.integer('position').notNullable();
    t.text('heading').notNullable();
    t.text('body').notNullable();
    // Text that reads as orders to an AI (prompt injection): searchable by operators, never given to the model.
    t.boolean('flagged').notNullable().defaultTo(false);
    // The same text on several pages of a source (a delivery box on every product page): never a result.
    t.boolean('boilerplate').notNullable().defaultTo(false);
    t.string('embedding_model', 200);
    t.binary('embedding');
    t.index(['tenant_id']);
    t.index(['document_id']);
  });
  if (pg) {
    await knex.raw(`alter table knowledge_chunks add column fts_config regconfig not null default 'simple'`);
    await knex.raw(
      `alter table knowledge_chunks add column search tsvector generated always as
         (setweight(to_tsvector(fts_config, heading), 'A') || to_tsvector(fts_config, body)) stored`,
    );
    await knex.raw(`create index knowledge_chunks_search on knowledge_chunks using gin (search)`);
  } else {
    // The tenant's id is an indexed column so a search intersects with one tenant's rows inside FTS5
    // (its weight in bm25 is 0, so it never changes a ranking).
    await knex.raw(
      `create virtual table knowledge_chunks_fts using fts5(tenant_id, heading, body, content='knowledge_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')`,
    );
    await knex.raw(`create trigger knowledge_chunks_ai after insert on knowledge_chunks begin
      insert into knowledge_chunks_fts(rowid, tenant_id, heading, body) values (new.id, new.tenant_id, new.heading, new.body); end`);
    await knex.raw(`create trigger knowledge_chunks_ad after delete on knowledge_chunks begin
      insert into knowledge_chunks_fts(knowledge_chunks_fts, rowid, tenant_id, heading, body) values ('delete', old.id, old.tenant_id, old.heading, old.body); end`);
    await knex.raw(`create trigger knowledge_chunks_au after update of tenant_id, heading, body on knowledge_chunks begin
      insert into knowledge_chunks_fts(knowledge_chunks_fts, rowid, tenant_id, heading, body) values ('delete', old.id, old.tenant_id, old.heading, old.body);
      insert into knowledge_chunks_fts(rowid, tenant_id, heading, body) values (new.id, new.tenant_id, new.heading, new.body); end`);
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') await knex.raw('drop table if exists knowledge_chunks_fts');
  await knex.schema.dropTableIfExists('knowledge_chunks');
  await knex.schema.dropTableIfExists('knowledge_documents');
  await knex.schema.dropTableIfExists('knowledge_sources');
}
