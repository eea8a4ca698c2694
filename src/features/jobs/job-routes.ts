import { Router } from 'express';
import type { Api } from '../../http/api.js';
import type { ManagedJobQueue } from './job-queue.js';
import { idParamsSchema } from '../webhooks/webhook.schemas.js';
import * as R from '../../http/response-schemas.js';

/** Jobs parked as dead after their last attempt, for operators: listed, and requeued by hand. */
export function jobRoutes(api: Api, deps: { jobs: ManagedJobQueue }): Router {
  const router = Router();
  api.route(router, { method: 'get', path: '/v1/admin/jobs/dead', summary: 'Jobs parked as dead', tag: 'webhooks', auth: 'admin', response: R.deadJobs }, async () => ({
    backend: deps.jobs.backend,
    jobs: (await deps.jobs.listDead()).map((j) => ({ id: j.id, kind: j.kind, attempts: j.attempts, last_error: j.lastError, payload: j.payload })),
  }));
  api.route(
    router,
    { method: 'post', path: '/v1/admin/jobs/dead/:id/replay', summary: 'Requeue a dead job with a fresh attempt budget', tag: 'webhooks', auth: 'admin', response: R.requeued, params: idParamsSchema, audit: 'job.replayed' },
    async ({ params }) => {
      await deps.jobs.replayDead(params.id);
      return { requeued: params.id };
    },
  );
  return router;
}
