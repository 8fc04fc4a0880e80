// openledger.examples.v1.EchoService: what the gateway's and the host's tests call.
import * as grpc from "@grpc/grpc-js";
import { callerOf, examplesV1 } from "@openledger/sdk";

type E = typeof examplesV1;
type EchoRequest = ReturnType<E["EchoRequest"]["fromPartial"]>;
type EchoResponse = ReturnType<E["EchoResponse"]["fromPartial"]>;
type CountRequest = ReturnType<E["CountRequest"]["fromPartial"]>;
type CountResponse = ReturnType<E["CountResponse"]["fromPartial"]>;
type ConcatRequest = ReturnType<E["ConcatRequest"]["fromPartial"]>;
type ConcatResponse = ReturnType<E["ConcatResponse"]["fromPartial"]>;
type ChatRequest = ReturnType<E["ChatRequest"]["fromPartial"]>;
type ChatResponse = ReturnType<E["ChatResponse"]["fromPartial"]>;
type SleepRequest = ReturnType<E["SleepRequest"]["fromPartial"]>;
type SleepResponse = ReturnType<E["SleepResponse"]["fromPartial"]>;

/** What Sleep saw; Echo with message "stats" returns it as JSON, so callers can observe cancellation. */
export interface SleepStats {
  started: number;
  completed: number;
  cancelled: number;
  /** How long the last cancelled Sleep ran before its cancellation arrived. */
  lastCancelledAfterMs: number;
}

export const STATS_MESSAGE = "stats";

function textMetadata(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

export function createEchoService(greeting: string): grpc.UntypedServiceImplementation {
  const stats: SleepStats = { started: 0, completed: 0, cancelled: 0, lastCancelledAfterMs: 0 };

  const echo: grpc.handleUnaryCall<EchoRequest, EchoResponse> = (call, callback) => {
    const message = call.request.message === STATS_MESSAGE ? JSON.stringify(stats) : call.request.message;
    callback(null, {
      message,
      payload: call.request.payload,
      caller: callerOf(call).address,
      metadata: textMetadata(call.metadata),
    });
  };

  const count: grpc.handleServerStreamingCall<CountRequest, CountResponse> = (call) => {
    let index = 0;
    const tick = () => {
      if (call.cancelled) return;
      if (index >= call.request.count) {
        call.end();
        return;
      }
      call.write({ index: index++ });
      setTimeout(tick, call.request.intervalMs);
    };
    tick();
  };

  const concat: grpc.handleClientStreamingCall<ConcatRequest, ConcatResponse> = (call, callback) => {
    const parts: string[] = [];
    call.on("data", (request: ConcatRequest) => parts.push(request.part));
    call.on("end", () => callback(null, { joined: parts.join(""), parts: parts.length }));
  };

  const chat: grpc.handleBidiStreamingCall<ChatRequest, ChatResponse> = (call) => {
    call.on("data", (request: ChatRequest) => call.write({ text: `${greeting}${request.text}` }));
    call.on("end", () => call.end());
  };

  const sleep: grpc.handleUnaryCall<SleepRequest, SleepResponse> = (call, callback) => {
    stats.started++;
    const began = Date.now();
    const timer = setTimeout(() => {
      call.removeListener("cancelled", onCancel);
      stats.completed++;
      callback(null, { cancelled: false });
    }, call.request.ms);
    const onCancel = () => {
      clearTimeout(timer);
      stats.cancelled++;
      stats.lastCancelledAfterMs = Date.now() - began;
      callback(null, { cancelled: true });
    };
    call.once("cancelled", onCancel);
  };

  return { echo, count, concat, chat, sleep };
}
