// Route templates as Azure Functions writes them: literal segments, `{param}`, `{param?}`, `{param:constraint}`
// and a trailing catch-all `{*rest}`. Constraints other than `int`, `alpha` and `guid` are accepted and ignored.

interface Segment {
  literal?: string;
  param?: string;
  optional?: boolean;
  catchAll?: boolean;
  constraint?: string;
}

export interface CompiledRoute {
  template: string;
  match(path: string): Record<string, string> | undefined;
}

const constraints: Record<string, RegExp> = {
  int: /^-?\d+$/,
  alpha: /^[A-Za-z]+$/,
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
};

function parseSegment(raw: string): Segment {
  const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(raw);
  if (!m) return { literal: raw.toLowerCase() };
  return { param: m[2], catchAll: !!m[1], constraint: m[3], optional: !!m[4] || !!m[1] };
}

export function compileRoute(template: string): CompiledRoute {
  const segments = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter(Boolean)
    .map(parseSegment);
  return {
    template,
    match(path) {
      const parts = path
        .replace(/^\/+|\/+$/g, '')
        .split('/')
        .filter(Boolean);
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i];
        if (s.catchAll) {
          if (parts.length > i) params[s.param!] = parts.slice(i).map(decodeURIComponent).join('/');
          return params;
        }
        const part = parts[i];
        if (part === undefined) {
          if (s.optional) continue;
          return undefined;
        }
        if (s.literal !== undefined) {
          if (part.toLowerCase() !== s.literal) return undefined;
          continue;
        }
        const value = decodeURIComponent(part);
        const check = s.constraint ? constraints[s.constraint.toLowerCase()] : undefined;
        if (check && !check.test(value)) return undefined;
        params[s.param!] = value;
      }
      return parts.length <= segments.length ? params : undefined;
    },
  };
}
