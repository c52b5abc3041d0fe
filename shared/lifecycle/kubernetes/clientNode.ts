// `@kubernetes/client-node` 1.x+ is an ES module that needs Node >= 22.19 (its undici). It is loaded on first use
// through Node's own `require` (which loads ES modules since Node 22.12): loading it at module load would remove
// every function from the app on an older runtime (a module that throws at load unregisters them all), and jest's module registry cannot load ES modules,
// while Node's require can, in tests and in the Functions worker alike.
import type * as K8s from '@kubernetes/client-node';

export type ClientNode = typeof K8s;

let loaded: ClientNode | undefined;

export function clientNode(): ClientNode {
  if (!loaded) {
    const nativeRequire = process.getBuiltinModule('node:module').createRequire(__filename);
    loaded = nativeRequire('@kubernetes/client-node') as ClientNode;
  }
  return loaded;
}
