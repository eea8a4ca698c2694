import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';

const empty = mkdtempSync(path.join(tmpdir(), 'zia-cfg-'));

test('defaults give an embedded SQLite, offline AI setup', (t) => {
  const c = loadConfig({}, empty);
  t.is(c.PORT, 8000);
  t.is(c.HOST, '0.0.0.0');
  t.is(c.dbClient, 'sqlite');
  t.is(c.sqlitePath, path.join(empty, 'data', 'zia.sqlite'));
  t.is(c.aiProvider, 'offline');
  t.is(c.SITE_URL, 'http://localhost:8000');
  t.deepEqual(c.ALLOWED_ORIGINS, []);
  t.is(c.secretKeys.length, 0);
});

test('every invalid variable is reported at once', (t) => {
  const err = t.throws(
    () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ZIA_SECRET_KEY: 'short', LOG_LEVEL: 'loud' }, empty),
    { instanceOf: ConfigError },
  );
  const joined = err!.problems.join('\n');
  for (const name of ['PORT', 'DATABASE_URL', 'ZIA_SECRET_KEY', 'LOG_LEVEL']) t.true(joined.includes(name), `${name} reported`);
  t.is(err!.problems.length, 4);
});

test('.env in the working directory is read, real environment wins, *_FILE supplies secrets', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'zia-cfg-'));
  writeFileSync(path.join(dir, '.env'), 'PORT=9001\nSITE_URL=https://bot.example.com/\nUSE_MOCK=true\n');
  writeFileSync(path.join(dir, 'admin.key'), 'from-a-file-0123456789\n');
  const c = loadConfig({ PORT: '9002', ADMIN_KEY_FILE: 'admin.key', OPENAI_API_KEY: 'sk-test', DATABASE_URL: 'postgres://u@h/db' }, dir);
  t.is(c.PORT, 9002);
  t.is(c.SITE_URL, 'https://bot.example.com');
  t.is(c.ADMIN_KEY, 'from-a-file-0123456789');
  t.is(c.aiProvider, 'offline', 'USE_MOCK forces the offline provider');
  t.is(c.dbClient, 'pg');
});

test('a variable and its _FILE twin together is an error, as is an unreadable file', (t) => {
  const err = t.throws(() => loadConfig({ ADMIN_KEY: 'x'.repeat(20), ADMIN_KEY_FILE: 'a', STRIPE_SECRET_KEY_FILE: '/nope/missing' }, empty), {
    instanceOf: ConfigError,
  });
  t.is(err!.problems.length, 2);
});

test('secret keys accept hex and base64 and keep rotation keys', (t) => {
  const hex = 'a'.repeat(64);
  const b64 = Buffer.alloc(32, 7).toString('base64');
  const c = loadConfig({ ZIA_SECRET_KEY: hex, ZIA_SECRET_KEY_PREVIOUS: b64 }, empty);
  t.is(c.secretKeys.length, 2);
  t.true(c.secretKeys[0]!.equals(Buffer.from(hex, 'hex')));
  t.true(c.secretKeys[1]!.equals(Buffer.alloc(32, 7)));
});

test('OpenAI-compatible servers: a base URL alone selects the openai provider; tools, token parameter and proxies are read', (t) => {
  const local = loadConfig({ OPENAI_BASE_URL: 'http://localhost:11434/v1', OPENAI_TOOLS: 'off', OPENAI_MAX_TOKENS_PARAM: 'max_tokens' }, empty);
  t.is(local.aiProvider, 'openai');
  t.is(local.OPENAI_API_KEY, undefined);
  t.is(local.OPENAI_TOOLS, 'off');
  t.is(local.OPENAI_MAX_TOKENS_PARAM, 'max_tokens');
  t.deepEqual(local.proxy, { http: undefined, https: undefined, noProxy: undefined });
  const defaults = loadConfig({ OPENAI_API_KEY: 'sk-x' }, empty);
  t.is(defaults.OPENAI_TOOLS, 'auto');
  t.is(defaults.OPENAI_MAX_TOKENS_PARAM, 'max_completion_tokens');
  const proxied = loadConfig({ HTTPS_PROXY: 'http://proxy.corp:3128', https_proxy: 'http://ignored:1', http_proxy: 'http://lower:8080', no_proxy: 'localhost,.corp' }, empty);
  t.deepEqual(proxied.proxy, { https: 'http://proxy.corp:3128', http: 'http://lower:8080', noProxy: 'localhost,.corp' }, 'the upper-case name wins; either case is read');
  const err = t.throws(() => loadConfig({ OPENAI_TOOLS: 'maybe', OPENAI_MAX_TOKENS_PARAM: 'tokens', HTTPS_PROXY: 'not a url' }, empty), { instanceOf: ConfigError });
  t.deepEqual(err!.problems.map((p) => p.split(':')[0]).sort(), ['HTTPS_PROXY', 'OPENAI_MAX_TOKENS_PARAM', 'OPENAI_TOOLS']);
});
