// The echo plugin's entry point: the kernel starts it with `node dist/main.js` (see plugin.json).
import { examplesV1, servePlugin } from "@openledger/sdk";
import { createEchoService } from "./echo";

void servePlugin({
  services: ({ config }) => [
    {
      definition: examplesV1.EchoServiceService,
      implementation: createEchoService((config as { greeting?: string }).greeting ?? ""),
    },
  ],
});
