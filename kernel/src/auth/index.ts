export * from "./credentials";
export * from "./kernel-auth";
export * from "./service";
