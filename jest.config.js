// One jest run for the whole repository; TypeScript is compiled on the fly by swc.
// Workspace packages resolve to their sources so tests never depend on a stale dist/.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  // .cjs too: PGlite's CommonJS build loads Node modules with import(), which jest's VM cannot run;
  // compiling it turns those into require() calls.
  transform: { "^.+\\.(c?jsx?|tsx?)$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  transformIgnorePatterns: ["/node_modules/(?!@electric-sql/pglite/)"],
  testMatch: ["<rootDir>/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/.tools/"],
  moduleNameMapper: {
    "^@openledger/sdk$": "<rootDir>/kernel/sdk/src/index.ts",
    "^@openledger/sdk/(.*)$": "<rootDir>/kernel/sdk/src/$1",
    "^@openledger/kernel$": "<rootDir>/kernel/src/index.ts",
    "^@openledger/kernel/(.*)$": "<rootDir>/kernel/src/$1",
    "^@openledger/contracts$": "<rootDir>/contracts/src/index.ts",
    "^@openledger/contracts/(.*)$": "<rootDir>/contracts/src/$1",
    "^@openledger/native$": "<rootDir>/native/js/index.ts",
  },
  testTimeout: 60000,
};
