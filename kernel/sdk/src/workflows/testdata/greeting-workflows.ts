// A tiny workflow for the workflows test: waits for an approval signal, then runs an activity.
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from "@temporalio/workflow";
import type { createGreetingActivities } from "./greeting-activities";

const { greet } = proxyActivities<ReturnType<typeof createGreetingActivities>>({
  startToCloseTimeout: "10 seconds",
  retry: { initialInterval: "50 milliseconds", maximumAttempts: 3 },
});

export const decide = defineSignal<[boolean]>("decide");
export const status = defineQuery<string>("status");

export async function greetingWorkflow(name: string): Promise<string> {
  let approved: boolean | undefined;
  setHandler(decide, (value) => {
    approved = value;
  });
  setHandler(status, () => (approved === undefined ? "waiting" : approved ? "approved" : "rejected"));
  await condition(() => approved !== undefined);
  return approved ? greet(name) : `rejected ${name}`;
}
