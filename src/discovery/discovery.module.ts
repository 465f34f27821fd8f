import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module.js';
import { DiscoveryController } from './discovery.controller.js';

@Module({ imports: [ResourcesModule], controllers: [DiscoveryController] })
export class DiscoveryModule {}
