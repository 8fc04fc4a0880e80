// Public surface of @openledger/sdk. Each concern lives in its own folder; re-export it here.
export * from "./protocol";
export * from "./identity";
export * from "./process/managed";
// Generated kernel protos, namespaced (ts-proto emits the same helper names in every file).
export * as authV1 from "./gen/openledger/kernel/v1/auth";
export * as kernelV1 from "./gen/openledger/kernel/v1/kernel";
export * from "./plugin/health";
export * from "./plugin/serve";
export * as examplesV1 from "./gen/openledger/examples/v1/echo";
export * from "./chain";
export * from "./objects";
export * from "./vectors";
export * from "./database";
export * from "./workflows";
export * from "./testing";
