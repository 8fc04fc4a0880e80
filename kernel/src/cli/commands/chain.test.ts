import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startAnvil, type AnvilChain } from "@openledger/sdk";
import { runChainCli } from "./chain";

describe("ol chain deploy", () => {
  let anvil: AnvilChain;
  let dir: string;
  beforeAll(async () => {
    anvil = await startAnvil();
    dir = mkdtempSync(path.join(tmpdir(), "ol-chain-cli-"));
  });
  afterAll(async () => {
    await anvil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (...args: string[]) => {
    let text = "";
    await runChainCli(["deploy", "--rpc", anvil.rpcUrl, "--address-book-dir", dir, ...args], { write: (t: string) => (text += t) });
    return text;
  };

  it("deploys on a local anvil with its dev key, then changes nothing when run again", async () => {
    const first = JSON.parse(await run("--json"));
    expect(first.transactionsSent).toBeGreaterThan(10);
    const book = readFileSync(path.join(dir, `${anvil.chainId}.json`), "utf8");
    expect(JSON.parse(book).contracts.RewardDistributor.address).toBe(first.addresses.RewardDistributor);
    const second = await run();
    expect(second).toMatch(/chain 31337: 0 transaction\(s\) sent/);
    expect(second).toContain(first.addresses.OpenGovernor);
    expect(readFileSync(path.join(dir, `${anvil.chainId}.json`), "utf8")).toBe(book);
  });

  it("refuses a malformed key and an unreachable node with clear errors", async () => {
    await expect(run("--key", "0x1234")).rejects.toThrow(/32 bytes of hex/);
    await expect(
      runChainCli(["deploy", "--rpc", "http://127.0.0.1:1", "--address-book-dir", dir], { write: () => undefined }),
    ).rejects.toThrow(/cannot reach/);
  });
});
