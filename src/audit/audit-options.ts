import type { AuditHooksOptions } from './audit-hooks.js';
import type { AuditSink } from './audit-sink.js';

/** What the embedding program chooses for the audit module besides the configuration. */
export interface AuditModuleOptions {
  /** false: record events but deliver none from this process (the CLI: its stdout is its answer). Default true. */
  delivery?: boolean;
  /** More sinks, fed like the built-in ones (each needs a unique, stable id). */
  sinks?: AuditSink[];
  /** In-process hooks registered at boot (AuditHooks can also be injected and subscribed to later). */
  hooks?: AuditHooksOptions;
}

export const AUDIT_MODULE_OPTIONS = Symbol('AUDIT_MODULE_OPTIONS');
