// Outside the Functions host `@azure/functions` runs in test mode and warns once per `app.*` registration.
// Those warnings are expected here (handlers are exported and called directly), so they are filtered out.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('"@azure/functions" package')) return;
  warn(...args);
};
