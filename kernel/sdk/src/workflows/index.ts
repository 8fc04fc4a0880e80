export * from "./conventions";
export * from "./temporal";
