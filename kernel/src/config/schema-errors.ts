// One reading of ajv's errors for every schema the kernel validates (its config, plugin manifests):
// the dotted key of the offending value and what is wrong with it.
import type { ErrorObject } from "ajv";

export interface SchemaProblem {
  /** Path segments of the offending key; a missing or unknown property is the last one. */
  keys: string[];
  /** "is required", "unknown key", "must be one of a, b", or ajv's own message. */
  message: string;
}

export function schemaProblem(error: ErrorObject): SchemaProblem {
  // instancePath is a JSON pointer: "/a/b", with "~1" for "/" and "~0" for "~" inside keys.
  const keys = error.instancePath.split("/").filter(Boolean).map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (error.keyword === "additionalProperties") {
    return { keys: [...keys, String((error.params as { additionalProperty: string }).additionalProperty)], message: "unknown key" };
  }
  if (error.keyword === "required") {
    return { keys: [...keys, String((error.params as { missingProperty: string }).missingProperty)], message: "is required" };
  }
  if (error.keyword === "enum") {
    return { keys, message: `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map(String).join(", ")}` };
  }
  return { keys, message: error.message ?? "is invalid" };
}
