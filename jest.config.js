// One jest run for the whole repository; TypeScript is compiled on the fly by swc.
// Workspace packages resolve to their sources so tests never depend on a stale dist/.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
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
