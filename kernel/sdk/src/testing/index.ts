// Real servers for tests (not used in production code paths).
export * from "./postgres";
export * from "./seaweed";
