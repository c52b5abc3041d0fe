/** @type {import('jest').Config} */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  // onnxruntime-node's native outputs are main-realm typed arrays; see the setup file.
  setupFiles: ['<rootDir>/test/setup/quietTestMode.ts', '<rootDir>/test/setup/mainRealmTypedArrays.ts'],
};

module.exports = {
  projects: [
    // No services: no Azurite, no Redis, no child processes. `npm run test:unit`.
    { ...shared, displayName: 'unit', roots: ['<rootDir>/test/unit'], testMatch: ['**/*.test.ts'] },
    // Azurite (started per test file from node_modules), the Redis on 127.0.0.1:6379, the compiled app in child
    // processes. `npm run test:integration` builds first.
    { ...shared, displayName: 'integration', roots: ['<rootDir>/test/integration'], testMatch: ['**/*.test.ts'] },
  ],
  // Each integration file starts its own Azurite and servers on free ports; two workers keep a 2-core machine busy.
  maxWorkers: 2,
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/setup/summaryReporter.js'],
};
