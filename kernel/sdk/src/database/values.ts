// What both implementations share about values and errors, so results are identical whichever
// engine runs the SQL.
import { DatabaseError } from "./types";

const INT8 = 20;
const BYTEA = 17;

function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new DatabaseError("22003", `int8 value ${text} does not fit a JavaScript number; use numeric or cast to text`);
  }
  return value;
}

function parseBytea(text: string): Buffer {
  // Text format of bytea is "\x" followed by hex (bytea_output = hex, the default).
  return Buffer.from(text.slice(2), "hex");
}

/** Text-format parsers by type OID, overriding each driver's defaults. */
export const COLUMN_PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [INT8]: parseInt8,
  [BYTEA]: parseBytea,
};

interface DriverError {
  code: string;
  message: string;
  constraint?: string;
  detail?: string;
}

function isDriverError(err: unknown): err is DriverError {
  return (
    typeof err === "object" &&
    err !== null &&
    typeof (err as { code?: unknown }).code === "string" &&
    /^[0-9A-Z]{5}$/.test((err as { code: string }).code) &&
    typeof (err as { message?: unknown }).message === "string"
  );
}

/** Rethrows a driver's SQL error as a DatabaseError; other errors pass through unchanged. */
function toDatabaseError(err: unknown): unknown {
  if (err instanceof DatabaseError || !isDriverError(err)) return err;
  return new DatabaseError(err.code, err.message, err.constraint ?? undefined, err.detail ?? undefined);
}

export async function translateErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toDatabaseError(err);
  }
}
