import type { Knex } from 'knex';
import * as initial from './20261126000000_initial.js';
import * as inboxJobs from './20261126010000_inbox_jobs.js';
import * as orderSubscriptionState from './20261126014500_order_subscription_state.js';
import * as providerIdText from './20261126020000_provider_id_text.js';
import * as outboundSendRecovery from './20261203000000_outbound_send_recovery.js';
import * as serialJobQueues from './20261203010000_serial_job_queues.js';
import * as rateLimits from './20261203020000_rate_limits.js';
import * as jobTenants from './20261204000000_job_tenants.js';
import * as catalogFetchLeases from './20261204010000_catalog_fetch_leases.js';
import * as handoffRequests from './20261204020000_handoff_requests.js';
import * as knowledgeBase from './20261205000000_knowledge_base.js';
import * as usageMeter from './20261206000000_usage_meter.js';
import * as contactErasures from './20261206010000_contact_erasures.js';
import * as auditLog from './20261206020000_audit_log.js';
import * as whatsappCloud from './20261207000000_whatsapp_cloud.js';

export type ZiaMigration = Knex.Migration & {
  /** The tables its down() drops or changes: `zia migrate rollback` names them before it acts. */
  tables?: readonly string[];
};

/**
 * Every migration, in order. Listed explicitly so the built package runs them with no TypeScript
 * loader and no directory scan. Add new migrations at the end; never rename one that has shipped;
 * export `tables` from each so a rollback can say what it will touch.
 */
export const migrations: Array<[name: string, migration: ZiaMigration]> = [
  ['20261126000000_initial', initial],
  ['20261126010000_inbox_jobs', inboxJobs],
  ['20261126014500_order_subscription_state', orderSubscriptionState],
  ['20261126020000_provider_id_text', providerIdText],
  ['20261203000000_outbound_send_recovery', outboundSendRecovery],
  ['20261203010000_serial_job_queues', serialJobQueues],
  ['20261203020000_rate_limits', rateLimits],
  ['20261204000000_job_tenants', jobTenants],
  ['20261204010000_catalog_fetch_leases', catalogFetchLeases],
  ['20261204020000_handoff_requests', handoffRequests],
  ['20261205000000_knowledge_base', knowledgeBase],
  ['20261206000000_usage_meter', usageMeter],
  ['20261206010000_contact_erasures', contactErasures],
  ['20261206020000_audit_log', auditLog],
  ['20261207000000_whatsapp_cloud', whatsappCloud],
];
