export * from "./server";
export * from "./json-codec";
