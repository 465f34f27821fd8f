import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { InvalidRequest } from '../common/oauth-errors.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';
import type { UserFilter } from '../authorization/user.repository.js';
import { toManagedUserView, UserManagementService, type ManagedUserView } from './user-management.service.js';

/** Finding users, and disabling or enabling one (see UserManagementService). */
@Controller('admin/users')
@RateLimit('admin')
@AdminApi()
export class AdminUsersController {
  constructor(private readonly users: UserManagementService) {}

  /** `login`, `email` (exact, any case), `provider` (exact), `q` (see UserFilter); all given must match. */
  @Get()
  async find(@Query() query: Record<string, unknown>): Promise<ManagedUserView[]> {
    return (await this.users.find(userFilter(query))).map(toManagedUserView);
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<ManagedUserView> {
    return toManagedUserView(await this.users.get(id));
  }

  @Post(':id/disable')
  @HttpCode(200)
  async disable(@Param('id') id: string, @InRequest() request?: RequestContext): Promise<ManagedUserView> {
    return toManagedUserView(await this.users.disable(id, request));
  }

  @Post(':id/enable')
  @HttpCode(200)
  async enable(@Param('id') id: string, @InRequest() request?: RequestContext): Promise<ManagedUserView> {
    return toManagedUserView(await this.users.enable(id, request));
  }
}

const FILTERS = ['login', 'email', 'provider', 'q'] as const;

function userFilter(query: Record<string, unknown>): UserFilter {
  const unknown = Object.keys(query).filter((name) => !(FILTERS as readonly string[]).includes(name));
  if (unknown.length) throw new InvalidRequest(`unknown query parameters: ${unknown.join(', ')}; use ${FILTERS.join(', ')}`);
  const filter: UserFilter = { login: null, email: null, provider: null, q: null };
  for (const name of FILTERS) {
    const value = query[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '' || value.length > 320) throw new InvalidRequest(`${name} must be one non-empty value of at most 320 characters`);
    filter[name] = value.trim();
  }
  return filter;
}
