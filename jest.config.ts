// Jest in ESM mode: the Octokit packages are ESM-only, so tests import the real modules
// (run with NODE_OPTIONS=--experimental-vm-modules, as `npm test` does).
// Type errors are caught by `npm run typecheck`; ts-jest only transpiles here (isolatedModules).
import type { Config } from 'jest';

const config: Config = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testTimeout: 30_000,
  // Each test file may start servers and child processes; two workers fit the 2-core machine.
  maxWorkers: 2,
};

export default config;
