import 'reflect-metadata';
import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import {
  Body,
  Catch,
  Controller,
  createParamDecorator,
  Get,
  Header,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
  UseInterceptors,
  UsePipes,
  ValidationPipe,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { IsString } from 'class-validator';
import type { HttpRequest } from '../common/http.js';
import { InvalidRequest } from '../common/oauth-errors.js';
import { PublicCors } from '../common/cors.middleware.js';
import { JsonOnly, NoStore, OAuthBody } from '../common/oauth-body.decorator.js';
import { InRequest } from '../common/request-context.middleware.js';
import { strictValidationPipe } from '../common/validation.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { FastPath } from '../common/fast-path.decorator.js';
import { FastLaneModule } from './fast-lane.module.js';
import { FastPathRefused, FastRouteExplorer, type FastRoute } from './fast-route-explorer.js';

@Injectable()
class ExtraGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class ExtraInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

@Injectable()
class UppercasePipe implements PipeTransform {
  transform(value: unknown): unknown {
    return typeof value === 'string' ? value.toUpperCase() : value;
  }
}

@Catch()
class SwallowingFilter implements ExceptionFilter {
  catch(): void {}
}

/** A parameter decorator made the ordinary way: the fast lane cannot know what it reads. */
const UserAgent = createParamDecorator((_data: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<HttpRequest>().headers['user-agent']);

class NoteDto {
  @IsString()
  note!: string;
}

/** The fast routes of an application made of `controllers`, as createApp finds them. */
async function explore(...controllers: Type[]): Promise<FastRoute[]> {
  return (await exploreAll(...controllers)).routes;
}

async function exploreAll(...controllers: Type[]): Promise<{ routes: FastRoute[]; publicCorsPaths: string[] }> {
  return exploreWith({ controllers });
}

async function exploreWith({ controllers, providers = [] }: { controllers: Type[]; providers?: Provider[] }): Promise<{ routes: FastRoute[]; publicCorsPaths: string[] }> {
  @Module({ imports: [FastLaneModule], controllers, providers })
  class TestModule {}
  const app = await NestFactory.create(TestModule, { logger: false, abortOnError: false });
  try {
    const explorer = app.get(FastRouteExplorer);
    return { routes: explorer.routes(), publicCorsPaths: explorer.publicCorsPaths() };
  } finally {
    await app.close();
  }
}

async function refusal(...controllers: Type[]): Promise<string> {
  const error = await explore(...controllers).then(
    () => undefined,
    (refused: unknown) => refused,
  );
  assert.ok(error instanceof FastPathRefused, `boot was refused: ${String(error)}`);
  return error.message;
}

describe('FastRouteExplorer: the fast routes, read from the handlers’ decorators', () => {
  it('derives method, every path, status, headers, the policy (handler, then class), CORS and the body handling', async () => {
    @Controller('api')
    @RateLimit('mint')
    @NoStore()
    class NotesController {
      @Post(['notes', 'notes/again'])
      @HttpCode(202)
      @RateLimit('admin')
      @JsonOnly()
      @UsePipes(strictValidationPipe)
      @FastPath()
      add(@Body() body: NoteDto, @InRequest() _request?: unknown): { note: string } {
        return { note: body.note };
      }

      @Get('notes/:id')
      @Header('Content-Type', 'application/vnd.notes+json')
      @FastPath()
      read(@Param('id') id: string, @Req() _req: HttpRequest): { id: string } {
        return { id };
      }

      @Post('notes/plain')
      @FastPath()
      plain(@OAuthBody('form') body: unknown): unknown {
        return body;
      }

      @Get('notes')
      list(): string[] {
        return [];
      }
    }
    @Controller()
    @PublicCors()
    class TokenLikeController {
      @Post('token')
      @FastPath()
      token(@Res() _res: unknown): void {}
    }

    const { routes, publicCorsPaths } = await exploreAll(NotesController, TokenLikeController);
    assert.deepEqual(publicCorsPaths, ['/token'], 'the @PublicCors routes, for the CORS middleware in front of Express');
    const byPath = new Map(routes.map((route) => [`${route.method} ${route.path}`, route]));
    assert.deepEqual([...byPath.keys()].sort(), ['GET /api/notes/:id', 'POST /api/notes', 'POST /api/notes/again', 'POST /api/notes/plain', 'POST /token']);

    const add = byPath.get('POST /api/notes')!;
    assert.equal(add.name, 'NotesController.add');
    assert.equal(add.status, 202);
    assert.equal(add.policy, 'admin', 'the handler’s @RateLimit wins over the class’s');
    assert.equal(add.readsBody, true);
    assert.equal(add.cors, false);
    assert.equal(add.interceptors.length, 2, 'NoStore (class), then JsonOnly (handler)');
    assert.deepEqual(
      add.params.map((param) => [param.index, param.metadata.type, param.metadata.metatype, param.pipes.length]).sort(([a], [b]) => Number(a) - Number(b)),
      [
        [0, 'body', NoteDto, 1],
        [1, 'custom', Object, 1],
      ],
    );
    assert.equal(add.jsonContentType, 'application/json; charset=utf-8');

    const read = byPath.get('GET /api/notes/:id')!;
    assert.deepEqual(read.paramNames, ['id']);
    assert.equal(read.status, 200);
    assert.equal(read.policy, 'mint', 'the class’s @RateLimit when the handler has none');
    assert.equal(read.readsBody, false);
    assert.equal(read.readsRequest, true);
    assert.equal(read.jsonContentType, 'application/vnd.notes+json; charset=utf-8');
    assert.deepEqual(read.headers, [['Content-Type', 'application/vnd.notes+json']]);

    const plain = byPath.get('POST /api/notes/plain')!;
    assert.equal(plain.status, 201, 'Nest’s default for POST');
    const formRequest = { headers: { 'content-type': 'application/x-www-form-urlencoded' }, socket: {}, body: { a: '1' } };
    assert.deepEqual(plain.params[0]!.read(formRequest, undefined as never, {}), { a: '1' }, '@OAuthBody read through its own reader');
    assert.throws(() => plain.params[0]!.read({ ...formRequest, headers: { 'content-type': 'application/json' } }, undefined as never, {}), InvalidRequest);

    const token = byPath.get('POST /token')!;
    assert.equal(token.cors, true, 'its controller is @PublicCors');
    assert.equal(token.policy, 'default');
    assert.equal(token.respondsItself, true);
  });
});

describe('FastRouteExplorer: the application refuses to start with a fast route the fast lane cannot serve as Nest would', () => {
  it('refuses a guard it cannot run, on the handler or on its controller, naming the controller and handler', async () => {
    @Controller()
    class TokensController {
      @Post('token')
      @FastPath()
      @UseGuards(ExtraGuard)
      token(@OAuthBody('form') body: unknown): unknown {
        return body;
      }
    }
    assert.equal(await refusal(TokensController), 'TokensController.token: @UseGuards(ExtraGuard) is not honoured by the fast path');

    @Controller()
    @UseGuards(ExtraGuard)
    class GuardedController {
      @Get('guarded')
      @FastPath()
      read(): object {
        return {};
      }
    }
    assert.equal(await refusal(GuardedController), 'GuardedController.read: @UseGuards(ExtraGuard) is not honoured by the fast path');
  });

  it('refuses an interceptor it cannot run', async () => {
    @Controller()
    class IntrospectionController {
      @Post('introspect')
      @FastPath()
      @UseInterceptors(ExtraInterceptor)
      introspect(): object {
        return {};
      }
    }
    assert.equal(await refusal(IntrospectionController), 'IntrospectionController.introspect: @UseInterceptors(ExtraInterceptor) is not honoured by the fast path');
  });

  it('refuses a parameter decorator that was not made to read the request alone, and the built-in ones it does not serve', async () => {
    @Controller()
    class AgentController {
      @Post('agent')
      @FastPath()
      agent(@OAuthBody('form') _body: unknown, @UserAgent() agent: unknown): object {
        return { agent };
      }
    }
    assert.equal(await refusal(AgentController), 'AgentController.agent: the decorator of parameter 2 (not made by createRequestParamDecorator) is not honoured by the fast path');

    @Controller()
    class SearchController {
      @Get('search')
      @FastPath()
      search(@Query('q') q: string): object {
        return { q };
      }
    }
    assert.equal(await refusal(SearchController), 'SearchController.search: @QUERY on parameter 1 is not honoured by the fast path');

    @Controller()
    class PassthroughController {
      @Get('passthrough')
      @FastPath()
      passthrough(@Res({ passthrough: true }) _res: unknown): object {
        return {};
      }
    }
    assert.equal(await refusal(PassthroughController), 'PassthroughController.passthrough: @Res({ passthrough: true }) is not honoured by the fast path');
  });

  it('refuses a pipe class (it needs the injector), an exception filter, and a document route with parameters', async () => {
    @Controller()
    class PipedController {
      @Post('piped')
      @FastPath()
      @UsePipes(UppercasePipe)
      piped(@Body() body: unknown): object {
        return { body };
      }
    }
    assert.equal(await refusal(PipedController), 'PipedController.piped: @UsePipes(UppercasePipe) is not honoured by the fast path');

    @Controller()
    class FilteredController {
      @Post('filtered')
      @FastPath()
      @UseFilters(SwallowingFilter)
      filtered(): object {
        return {};
      }
    }
    assert.equal(await refusal(FilteredController), 'FilteredController.filtered: @UseFilters(SwallowingFilter) is not honoured by the fast path');

    @Controller()
    class DocumentController {
      @Get('document/:id')
      @FastPath({ document: true })
      document(@Param('id') id: string): object {
        return { id };
      }
    }
    assert.match(await refusal(DocumentController), /^DocumentController\.document: @FastPath\(\{ document: true \}\) on a handler that is not a GET without parameters/);
  });

  it('refuses a global interceptor, which Nest would run on the fast routes too', async () => {
    @Controller()
    class PlainController {
      @Get('plain')
      @FastPath()
      plain(): object {
        return {};
      }
    }
    const error = await exploreWith({ controllers: [PlainController], providers: [{ provide: APP_INTERCEPTOR, useClass: ExtraInterceptor }] }).then(
      () => undefined,
      (refused: unknown) => refused,
    );
    assert.ok(error instanceof FastPathRefused, String(error));
    assert.equal(error.message, '@FastPath routes: the global APP_INTERCEPTOR ExtraInterceptor is not honoured by the fast path');
  });

  it('serves a pipe given as an instance, as Nest runs it', async () => {
    @Controller()
    class ValidatedController {
      @Post('validated')
      @FastPath()
      @UsePipes(new ValidationPipe())
      validated(@Body() body: NoteDto): object {
        return body;
      }
    }
    const [route] = await explore(ValidatedController);
    assert.equal(route?.params[0]?.pipes.length, 1);
  });
});
