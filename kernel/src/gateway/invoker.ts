// The Invoker the HTTP/JSON layer uses: a gRPC client of the gateway itself, over loopback, so a
// call from HTTP gets exactly what a gRPC client gets (authentication, header cleaning, identity
// signing, limits) with no second implementation of any of it (grpc-gateway works the same way).
import { Client, credentials, type CallOptions, type ChannelOptions, type Metadata } from "@grpc/grpc-js";
import type { InvokeOptions, Invoker } from "../types";
import { requestMetadataForGateway } from "./metadata";

const passBytes = (value: Buffer): Buffer => value;

function callOptions(options: InvokeOptions): CallOptions {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

function whenAborted(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    cancel();
    return () => {};
  }
  signal.addEventListener("abort", cancel, { once: true });
  return () => signal.removeEventListener("abort", cancel);
}

export class LoopbackInvoker implements Invoker {
  private readonly client: Client;

  constructor(gatewayAddress: string, channelOptions: ChannelOptions = {}) {
    this.client = new Client(gatewayAddress, credentials.createInsecure(), channelOptions);
  }

  unary(path: string, request: Uint8Array, options: InvokeOptions): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const metadata: Metadata = requestMetadataForGateway(options.metadata);
      let forget = (): void => {};
      const call = this.client.makeUnaryRequest(path, passBytes, passBytes, Buffer.from(request), metadata, callOptions(options), (error, response) => {
        forget();
        if (error) reject(error);
        else resolve(new Uint8Array(response!));
      });
      forget = whenAborted(options.signal, () => call.cancel());
    });
  }

  async *serverStream(path: string, request: Uint8Array, options: InvokeOptions): AsyncIterable<Uint8Array> {
    const metadata = requestMetadataForGateway(options.metadata);
    const call = this.client.makeServerStreamRequest(path, passBytes, passBytes, Buffer.from(request), metadata, callOptions(options));
    const forget = whenAborted(options.signal, () => call.cancel());
    try {
      for await (const message of call) yield new Uint8Array(message as Buffer);
    } finally {
      forget();
      // Stopping early (break, or an error in the consumer) must not leave the upstream call running.
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }
}
