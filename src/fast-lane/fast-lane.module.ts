import { Module } from '@nestjs/common';
import { DiscoveryModule as NestDiscoveryModule } from '@nestjs/core';
import { FastRouteExplorer } from './fast-route-explorer.js';

/** Provides FastRouteExplorer; createApp (src/bootstrap.ts) installs the fast lane from the routes it finds. */
@Module({
  imports: [NestDiscoveryModule],
  providers: [FastRouteExplorer],
  exports: [FastRouteExplorer],
})
export class FastLaneModule {}
