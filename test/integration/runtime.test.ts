// The project pins its runtime (Node 24, a dev dependency): npm scripts run on the Node 24 from node_modules even where the
// machine's own node is older. @kubernetes/client-node 2.x would fail to load on Node 20.
import { execFileSync } from 'node:child_process';

describe('runtime', () => {
  it('runs the tests on Node 24 from the node@24 devDependency', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
    expect(process.execPath).toMatch(/node_modules[\\/]node[\\/]bin[\\/]node$/);
  });

  it('can load @kubernetes/client-node, which needs Node >= 22.19', () => {
    const out = execFileSync(process.execPath, ['-e', "require('@kubernetes/client-node'); console.log('loaded')"], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('loaded');
  });
});
