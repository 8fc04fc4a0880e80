// `ol keys create|list|revoke`: API keys through the kernel's AuthService, as the bootstrap admin
// (whose key `ol` reads from the data dir).
import type { Command } from "commander";
import type { authV1 } from "@openledger/sdk";
import { withKernel } from "../with-kernel";

const CONFIG_OPTION = ["-c, --config <file>", "config file (default: $OL_CONFIG or ./openledger.yaml|yml|json)"] as const;

function describe(key: authV1.ApiKeyInfo): string {
  const used = key.lastUsedAtMs > 0n ? new Date(Number(key.lastUsedAtMs)).toISOString() : "never";
  return `  ${key.id}  ${key.address}  ${key.admin ? "admin" : "     "}  created ${new Date(Number(key.createdAtMs)).toISOString()}  used ${used}  ${key.label}`;
}

export function register(program: Command): void {
  const keys = program.command("keys").description("manage API keys (as the bootstrap admin)");
  keys
    .command("create")
    .description("create an API key bound to an address; prints the key once")
    .requiredOption("-a, --address <address>", "0x address the key acts as")
    .option("-l, --label <label>", "what the key is for", "")
    .option("--admin", "an admin key")
    .option(...CONFIG_OPTION)
    .action((options: { address: string; label: string; admin?: boolean; config?: string }) =>
      withKernel(options.config, async ({ auth, metadata }, { unary }) => {
        const request = { address: options.address, label: options.label, admin: options.admin ?? false };
        const created = await unary(auth, auth.createApiKey, request, metadata);
        process.stdout.write(`${created.apiKey}\n`);
      }),
    );
  keys
    .command("list")
    .description("list the API keys of an address (default: the admin's own)")
    .option("-a, --address <address>", "0x address", "")
    .option(...CONFIG_OPTION)
    .action((options: { address: string; config?: string }) =>
      withKernel(options.config, async ({ auth, metadata }, { unary }) => {
        const listed = await unary(auth, auth.listApiKeys, { address: options.address }, metadata);
        process.stdout.write(listed.keys.length ? `${listed.keys.map(describe).join("\n")}\n` : "  no keys\n");
      }),
    );
  keys
    .command("revoke")
    .description("revoke an API key by its id")
    .argument("<id>", "the key's id (the part after ol_)")
    .option(...CONFIG_OPTION)
    .action((id: string, options: { config?: string }) =>
      withKernel(options.config, async ({ auth, metadata }, { unary }) => {
        await unary(auth, auth.revokeApiKey, { id }, metadata);
        process.stdout.write(`revoked ${id}\n`);
      }),
    );
}
