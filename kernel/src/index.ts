export * from "./types";
export * from "./host";
export * from "./registry";
export * from "./gateway";
