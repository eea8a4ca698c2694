import ava from 'ava';
import http from 'node:http';
import { startApp } from '../helpers/app.js';
import { dialects } from '../helpers/db.js';

/** GET with a Host header of our choosing (fetch does not let a caller set Host). */
function getWithHost(url: string, host: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host, 'x-forwarded-host': host, 'x-forwarded-proto': 'https' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

for (const dialect of dialects()) {
  const test = dialect === 'pg' ? ava.serial : ava;

  test(`${dialect}: the demo page loads the widget from SITE_URL whatever Host the request names`, async (t) => {
    // TRUST_PROXY on: even a forwarded host, which Express would then believe, must not choose the script.
    const app = await startApp(dialect, { SITE_URL: 'https://bot.example.com/', TRUST_PROXY: 'true' });
    try {
      await app.services.tenants.create({ slug: 'shop', name: 'Shop' });
      const res = await getWithHost(`${app.url}/demo?tenant=shop`, 'evil.example.net');
      t.is(res.status, 200);
      const scripts = [...res.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
      t.deepEqual(scripts, ['https://bot.example.com/widget.js']);
      t.false(res.body.includes('evil.example.net'), 'the forged host appears nowhere in the page');
      const csp = String(res.headers['content-security-policy']);
      t.regex(csp, /script-src 'self' https:\/\/bot\.example\.com;/);
      t.false(csp.includes('evil'));
    } finally {
      await app.close();
    }
  });
}
