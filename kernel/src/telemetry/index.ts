export * from "./telemetry";
