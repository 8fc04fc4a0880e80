export * from "./host";
export * from "./manifest";
export { PluginRefusal, fileDescriptorName } from "./probe";
