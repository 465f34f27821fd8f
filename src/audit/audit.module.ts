import { DynamicModule, Global, Module } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { AuditLog } from './audit-log.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { AuditDeliveryRepository } from './audit-delivery.repository.js';
import { AuditNotifier } from './audit-notifier.js';
import { AuditDispatcher } from './audit-dispatcher.js';
import { AuditRetention } from './audit-retention.js';
import { AuditMetrics } from './audit-metrics.js';
import { AUDIT_HOOKS_OPTIONS, AuditHooks } from './audit-hooks.js';
import { AUDIT_SINKS, type AuditSink } from './audit-sink.js';
import { AUDIT_MODULE_OPTIONS, type AuditModuleOptions } from './audit-options.js';
import { AuditController } from './audit.controller.js';
import { AuditEventStream, AuditStreams } from './audit-stream.js';
import { LogSink } from './log-sink.js';
import { WebhookSink } from './webhook-sink.js';
import { RateLimitAudit } from './rate-limit-audit.js';

/** The sinks the configuration asks for. */
function configuredSinks(config: GatehouseConfig): AuditSink[] {
  const sinks: AuditSink[] = [];
  if (config.audit.log.kind !== 'off') sinks.push(new LogSink(config.audit.log));
  if (config.audit.webhook) sinks.push(new WebhookSink({ id: 'webhook', ...config.audit.webhook }));
  return sinks;
}

/**
 * Events (AuditLog, the outbox writer every feature uses), their delivery to sinks, the admin query and stream,
 * retention, and the in-process hooks. Global: every feature module records events.
 */
@Global()
@Module({})
export class AuditModule {
  static forRoot(options: AuditModuleOptions = {}): DynamicModule {
    return {
      module: AuditModule,
      global: true,
      controllers: [AuditController],
      providers: [
        { provide: AUDIT_MODULE_OPTIONS, useValue: options },
        { provide: AUDIT_HOOKS_OPTIONS, useValue: options.hooks ?? {} },
        AuditLog,
        AuditEventRepository,
        AuditDeliveryRepository,
        AuditNotifier,
        AuditHooks,
        AuditDispatcher,
        AuditRetention,
        AuditMetrics,
        AuditStreams,
        AuditEventStream,
        RateLimitAudit,
        {
          provide: AUDIT_SINKS,
          inject: [GATEHOUSE_CONFIG, AuditHooks],
          useFactory: (config: GatehouseConfig, hooks: AuditHooks): AuditSink[] => [...configuredSinks(config), hooks, ...(options.sinks ?? [])],
        },
      ],
      exports: [AuditLog, AuditHooks, AuditNotifier, AuditEventRepository, AuditDispatcher, RateLimitAudit, AuditEventStream],
    };
  }
}
