// The local host's stand-in for `@azure/functions-core`, the module the Azure Functions Node.js worker gives the
// `@azure/functions` library. With it installed, `app.http(...)`, `app.timer(...)`, `app.storageBlob(...)` and
// `app.hook.*` in functions/ register here exactly what they register with the Azure host: the function's name,
// its binding metadata (route, methods, schedule, blob path, source) and the handler. No second copy of routing
// or bindings exists anywhere in the project.
import Module from 'node:module';

export interface BindingInfo {
  type: string;
  direction: 'in' | 'out';
  name?: string;
  [property: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingInfo>;
}

export type Handler = (...args: unknown[]) => unknown;

/** A binding property as text for messages: a string as it is, any other value as JSON, `fallback` when unset. */
export function bindingText(value: unknown, fallback: string): string {
  if (value === undefined || value === null) return fallback;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export interface RegisteredFunction {
  readonly name: string;
  readonly bindings: Record<string, BindingInfo>;
  readonly trigger: BindingInfo;
  readonly handler: Handler;
}

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';

export class FunctionRegistry {
  readonly functions: RegisteredFunction[] = [];
  readonly hooks = new Map<HookName, Array<(context: unknown) => unknown>>();

  register(metadata: FunctionMetadata, handler: Handler): void {
    if (this.functions.some((f) => f.name === metadata.name)) {
      throw new Error(`A function named '${metadata.name}' is already registered`);
    }
    const trigger = Object.values(metadata.bindings).find((b) => b.direction === 'in' && /Trigger$/.test(b.type));
    if (!trigger) throw new Error(`Function '${metadata.name}' has no trigger binding`);
    this.functions.push({ name: metadata.name, bindings: metadata.bindings, trigger, handler });
  }

  byTrigger(type: string): RegisteredFunction[] {
    return this.functions.filter((f) => f.trigger.type === type);
  }

  async runHooks(name: 'appStart' | 'appTerminate'): Promise<void> {
    for (const hook of this.hooks.get(name) ?? []) {
      await hook({ hookData: {}, appHookData: {} });
    }
  }
}

const CORE_MODULE = '@azure/functions-core';

/** Make `require('@azure/functions-core')` resolve to an API that records registrations in `registry`. */
export function installFunctionsCore(registry: FunctionRegistry): void {
  const api = {
    setProgrammingModel(): void {},
    registerFunction(metadata: FunctionMetadata, handler: Handler) {
      registry.register(metadata, handler);
      return { dispose: () => undefined };
    },
    registerHook(name: HookName, callback: (context: unknown) => unknown) {
      const list = registry.hooks.get(name) ?? [];
      list.push(callback);
      registry.hooks.set(name, list);
      return { dispose: () => list.splice(list.indexOf(callback), 1) };
    },
    log(level: string, _category: string, message: string): void {
      if (level === 'error' || level === 'warning') console.error(`[worker] ${message}`);
    },
  };
  type Resolver = (request: string, ...rest: unknown[]) => string;
  const mod = Module as unknown as { _resolveFilename: Resolver; _cache: Record<string, unknown> };
  const resolve = mod._resolveFilename;
  mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === CORE_MODULE ? CORE_MODULE : resolve.call(this, request, ...rest);
  };
  const fake = new Module(CORE_MODULE);
  fake.exports = api;
  fake.loaded = true;
  mod._cache[CORE_MODULE] = fake;
}

/** Resolve `%SETTING%` binding expressions the way the Functions host does, from app settings. */
export function resolveAppSettings(value: string, lookup: (name: string) => string | undefined): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = lookup(name);
    if (resolved === undefined) throw new Error(`App setting '${name}' referenced by a binding is not set`);
    return resolved;
  });
}
