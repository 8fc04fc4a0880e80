// How workflows are named and found. Ids are `<kind>/<key...>` (finetune/<job>,
// approval/<datanet>/<record>, settle/<epoch>): starting the same id twice is refused by Temporal,
// which makes "start this job" idempotent. Every workflow also carries the OlKind and OlKey search
// attributes, so operators can list all approvals of a datanet in the Temporal UI.
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from "@temporalio/common";

const OL_KIND = defineSearchAttributeKey("OlKind", SearchAttributeType.KEYWORD);
const OL_KEY = defineSearchAttributeKey("OlKey", SearchAttributeType.KEYWORD);

/** The search attributes the platform registers in its namespace. */
export const OL_SEARCH_ATTRIBUTES: Readonly<Record<string, SearchAttributeType>> = {
  [OL_KIND.name]: OL_KIND.type,
  [OL_KEY.name]: OL_KEY.type,
};

const KIND = /^[a-z][a-z0-9-]{0,62}$/;

export interface WorkflowIdentity {
  kind: string;
  key: string[];
}

/** `workflowId("approval", datanet, record)` → "approval/<datanet>/<record>". */
export function workflowId(kind: string, ...key: string[]): string {
  if (!KIND.test(kind)) throw new Error(`bad workflow kind ${JSON.stringify(kind)}: want [a-z][a-z0-9-]{0,62}`);
  if (key.length === 0) throw new Error(`workflow id of kind ${kind} needs a key`);
  for (const part of key) {
    if (part.length === 0 || part.includes("/")) {
      throw new Error(`bad workflow key part ${JSON.stringify(part)}: non-empty, without '/'`);
    }
  }
  return [kind, ...key].join("/");
}

export function parseWorkflowId(id: string): WorkflowIdentity {
  const [kind, ...key] = id.split("/");
  workflowId(kind ?? "", ...key);
  return { kind: kind!, key };
}

/** Spread into client.workflow.start(...) options: the id and its search attributes. */
export function workflowStartOptions(
  kind: string,
  ...key: string[]
): { workflowId: string; typedSearchAttributes: SearchAttributePair[] } {
  return {
    workflowId: workflowId(kind, ...key),
    typedSearchAttributes: [
      { key: OL_KIND, value: kind },
      { key: OL_KEY, value: key.join("/") },
    ],
  };
}

/** A visibility query for client.workflow.list({ query }): all workflows of a kind (and key prefix). */
export function workflowQuery(kind: string, keyPrefix?: string): string {
  workflowId(kind, "x");
  const quote = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const byKind = `${OL_KIND.name} = ${quote(kind)}`;
  return keyPrefix ? `${byKind} AND ${OL_KEY.name} STARTS_WITH ${quote(keyPrefix)}` : byKind;
}
