/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  // Each test file starts its own Azurite and servers on free ports; two workers keep a 2-core machine busy.
  maxWorkers: 2,
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/setup/summaryReporter.js'],
  // onnxruntime-node's native outputs are main-realm typed arrays; see the setup file.
  setupFiles: ['<rootDir>/test/setup/quietTestMode.ts', '<rootDir>/test/setup/mainRealmTypedArrays.ts'],
};
