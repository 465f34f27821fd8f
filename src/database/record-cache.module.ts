import { Global, Module } from '@nestjs/common';
import { RecordCache } from './record-cache.js';
import { RecordCacheListener } from './record-cache-listener.js';

/** The record cache and, on PostgreSQL, the listener that keeps it correct across instances. */
@Global()
@Module({
  providers: [RecordCache, RecordCacheListener],
  exports: [RecordCache],
})
export class RecordCacheModule {}
