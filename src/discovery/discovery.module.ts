import { Module } from '@nestjs/common';
import { ResourcesModule } from '../resources/resources.module.js';
import { DiscoveryController } from './discovery.controller.js';
import { LandingController } from './landing.controller.js';

@Module({ imports: [ResourcesModule], controllers: [DiscoveryController, LandingController] })
export class DiscoveryModule {}
