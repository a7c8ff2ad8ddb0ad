/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }],
    // hyparquet ships only ES modules; jest's CommonJS runtime needs them transpiled
    // (plain Node 20 loads them through require(esm)).
    '^.+/node_modules/hyparquet/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!hyparquet/)'],
  testTimeout: 120000,
  // Tensors live in one native registry per process; workers keep suites isolated.
  maxWorkers: 2,
};
