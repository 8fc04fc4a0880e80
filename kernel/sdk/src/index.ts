// Public surface of @openledger/sdk. Each concern lives in its own folder; re-export it here.
export * from "./protocol";
export * from "./identity";
export * from "./process/managed";
