import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { IsIn } from 'class-validator';
import { AdminApi } from '../admin/admin.guard.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';
import { OPERATOR_ROLES, type OperatorRole } from './console-operator.entity.js';
import type { Operator } from './console.repository.js';
import { OperatorsService } from './operators.service.js';

export class OperatorRoleDto {
  @IsIn(OPERATOR_ROLES, { message: 'role must be admin or viewer' }) role!: OperatorRole;
}

export interface OperatorView {
  user_id: string;
  display_name: string | null;
  role: OperatorRole;
  granted_at: string;
  /** `api`, `cli`, `config` (CONSOLE_ADMINS), or the user id of the operator who granted it. */
  granted_by: string;
  identities: Array<{ provider: string; login: string | null; email: string | null }>;
}

/** The console's operators: who may use /console and how (`admin` changes things, `viewer` only looks). */
@Controller('admin/operators')
@RateLimit('admin')
@AdminApi()
export class AdminOperatorsController {
  constructor(private readonly operators: OperatorsService) {}

  @Get()
  async list(): Promise<OperatorView[]> {
    return (await this.operators.list()).map(toOperatorView);
  }

  /** Gives the user the role, or changes theirs. */
  @Put(':user')
  async grant(@Param('user') user: string, @Body() body: OperatorRoleDto, @InRequest() request?: RequestContext): Promise<OperatorView> {
    return toOperatorView(await this.operators.grant(user, body.role, request));
  }

  @Delete(':user')
  @HttpCode(204)
  async revoke(@Param('user') user: string, @InRequest() request?: RequestContext): Promise<void> {
    await this.operators.revoke(user, request);
  }
}

export function toOperatorView(operator: Operator): OperatorView {
  return {
    user_id: operator.userId,
    display_name: operator.displayName,
    role: operator.role,
    granted_at: operator.grantedAt.toISOString(),
    granted_by: operator.grantedBy,
    identities: operator.identities.map(({ provider, login, email }) => ({ provider, login, email })),
  };
}
