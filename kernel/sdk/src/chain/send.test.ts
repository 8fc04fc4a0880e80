// Faults around sendIdempotent, against a real anvil: the posting process is killed between sending
// and confirming; the sent transaction is lost; the node accepts a transaction but the response is lost.
import { createServer, request as httpRequest, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { keccak256, parseAbiItem, toHex, type Hex } from "viem";
import { spawnManaged } from "../process/managed";
import { ANVIL_DEV_PRIVATE_KEYS, startAnvil, type AnvilChain } from "./anvil";
import { connectChain, type ChainClients } from "./clients";
import { deployPlatform, type PlatformAddresses } from "./deploy";
import { platformContracts } from "./contracts";
import { rewardTree } from "./merkle";
import { ChainWriteError } from "./send";
import { postRewardRoot } from "./writes";

const REPO = path.resolve(__dirname, "../../../..");
const rootSet = parseAbiItem("event RootSet(uint256 indexed epoch, bytes32 root)");

// A child node process that posts a root through the real sources (compiled on the fly by swc),
// prints the transaction hash once the node has it, and then waits for a confirmation.
const CHILD = `
const Module = require("node:module");
const { readFileSync } = require("node:fs");
const { transformSync } = require("@swc/core");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "@openledger/contracts") request = ${JSON.stringify(path.join(REPO, "contracts/src/index.ts"))};
  return resolve.call(this, request, ...rest);
};
require.extensions[".ts"] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, "utf8"), {
    filename, jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "commonjs" },
  });
  module._compile(code, filename);
};
const [rpcUrl, privateKey, addresses, epoch, root] = process.argv.slice(1);
const { connectChain } = require(${JSON.stringify(path.join(__dirname, "clients.ts"))});
const { postRewardRoot } = require(${JSON.stringify(path.join(__dirname, "writes.ts"))});
connectChain({ rpcUrl, privateKey })
  .then((clients) => postRewardRoot(clients, JSON.parse(addresses), BigInt(epoch), root, {
    onSent: ({ hash }) => console.log("SENT " + hash),
  }))
  .then((result) => console.log("DONE " + result.status));
`;

describe("sendIdempotent under faults", () => {
  let anvil: AnvilChain;
  let operator: ChainClients;
  let addresses: PlatformAddresses;
  let dir: string;
  const users: ChainClients[] = [];

  const rpc = (method: string, params: unknown[] = []) =>
    operator.publicClient.request({ method: method as "eth_chainId", params: params as never });

  beforeAll(async () => {
    anvil = await startAnvil();
    dir = mkdtempSync(path.join(tmpdir(), "ol-send-"));
    operator = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
    ({ addresses } = await deployPlatform(operator, { addressBookDir: dir }));
    for (const key of ANVIL_DEV_PRIVATE_KEYS.slice(1, 3)) users.push(await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: key }));
    const token = platformContracts(operator, addresses).openToken;
    await operator.publicClient.waitForTransactionReceipt({ hash: await token.write.transfer([addresses.RewardDistributor, 10_000n]) });
  });
  afterAll(async () => {
    await anvil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the child, waits until it has sent its transaction, then kills it with SIGKILL. */
  async function postAndKill(epoch: bigint, root: Hex): Promise<Hex> {
    let sent: Hex | undefined;
    const child = await spawnManaged(
      process.execPath,
      ["-e", CHILD, anvil.rpcUrl, ANVIL_DEV_PRIVATE_KEYS[0], JSON.stringify(addresses), String(epoch), root],
      {
        cwd: REPO,
        readyLine: /^SENT 0x/,
        onLine: (line) => {
          if (line.startsWith("SENT ")) sent = line.slice(5) as Hex;
        },
      },
    );
    process.kill(-child.pid, "SIGKILL");
    expect(await child.exited).toBe("SIGKILL");
    return sent!;
  }

  const rootsPosted = async (epoch: bigint) =>
    (await operator.publicClient.getLogs({ address: addresses.RewardDistributor, event: rootSet, args: { epoch }, fromBlock: 0n }))
      .length;

  const claimTwice = async (tree: ReturnType<typeof rewardTree>, who: ChainClients) => {
    const distributor = platformContracts(who, addresses).rewardDistributor;
    const { cumulativeAmount, proof } = tree.proof(who.account.address);
    const hash = await distributor.write.claim([who.account.address, cumulativeAmount, proof]);
    expect((await who.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await expect(distributor.simulate.claim([who.account.address, cumulativeAmount, proof])).rejects.toThrow(/NothingToClaim/);
    return distributor.read.claimed([who.account.address]);
  };

  it("the poster is killed between sending and confirming; the retry finds the root and posts nothing", async () => {
    const tree = rewardTree(users.map((u, i) => ({ account: u.account.address, cumulativeAmount: BigInt(100 * (i + 1)) })));
    await rpc("evm_setAutomine", [false]); // the sent transaction waits in the pool
    const nonceBefore = await operator.publicClient.getTransactionCount({ address: operator.account.address });
    const hash = await postAndKill(1n, tree.root);
    expect((await operator.publicClient.getTransaction({ hash })).blockNumber).toBeNull();

    // The retry starts while the killed process's transaction is still pending; mining resumes later.
    const retry = postRewardRoot(operator, addresses, 1n, tree.root);
    setTimeout(() => void rpc("evm_setAutomine", [true]).then(() => rpc("anvil_mine", ["0x1"])), 500);
    expect(await retry).toEqual({ status: "already-done" });

    expect(await operator.publicClient.getTransactionCount({ address: operator.account.address })).toBe(nonceBefore + 1);
    expect((await operator.publicClient.getTransactionReceipt({ hash })).status).toBe("success");
    expect(await rootsPosted(1n)).toBe(1);
    expect(await claimTwice(tree, users[0])).toBe(100n);
    expect(await claimTwice(tree, users[1])).toBe(200n);
  });

  it("the poster is killed and its transaction is lost; the retry posts the root exactly once", async () => {
    const tree = rewardTree(users.map((u, i) => ({ account: u.account.address, cumulativeAmount: BigInt(150 * (i + 1)) })));
    await rpc("evm_setAutomine", [false]);
    const hash = await postAndKill(2n, tree.root);
    await rpc("anvil_dropTransaction", [hash]);
    await rpc("evm_setAutomine", [true]);

    const result = await postRewardRoot(operator, addresses, 2n, tree.root);
    expect(result.status).toBe("confirmed");
    expect(await postRewardRoot(operator, addresses, 2n, tree.root)).toEqual({ status: "already-done" });
    expect(await rootsPosted(2n)).toBe(1);
    expect(await claimTwice(tree, users[0])).toBe(150n);
    expect(await claimTwice(tree, users[1])).toBe(300n);
  });

  it("the node takes the transaction but the response is lost; the retry sees the effect and sends nothing more", async () => {
    // A real HTTP hop in front of anvil that forwards the first sendRawTransaction and then drops the reply.
    let sendsSeen = 0;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const isSend = body.includes("eth_sendRawTransaction");
        const upstream = httpRequest(anvil.rpcUrl, { method: "POST", headers: { "content-type": "application/json" } }, (up) => {
          const answer: Buffer[] = [];
          up.on("data", (c: Buffer) => answer.push(c));
          up.on("end", () => {
            if (isSend && ++sendsSeen === 1) {
              res.destroy(); // the transaction reached the node; the client never learns it
              return;
            }
            res.writeHead(up.statusCode ?? 502, { "content-type": "application/json" }).end(Buffer.concat(answer));
          });
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const port = (proxy.address() as { port: number }).port;
      const flaky = await connectChain({ rpcUrl: `http://127.0.0.1:${port}`, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
      const root = keccak256(toHex("epoch 3"));
      const result = await postRewardRoot(flaky, addresses, 3n, root, { retryDelayMs: 50 });
      expect(result).toEqual({ status: "already-done" });
      expect(sendsSeen).toBe(1);
      expect(await rootsPosted(3n)).toBe(1);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("two processes post the same root at once: one posts it, the other finds it", async () => {
    const root = keccak256(toHex("epoch 4"));
    const outcomes: string[] = [];
    const start = () =>
      spawnManaged(
        process.execPath,
        ["-e", CHILD, anvil.rpcUrl, ANVIL_DEV_PRIVATE_KEYS[0], JSON.stringify(addresses), "4", root],
        { cwd: REPO, readyTimeoutMs: 60_000, onLine: (line) => line.startsWith("DONE ") && outcomes.push(line.slice(5)) },
      );
    const children = await Promise.all([start(), start()]);
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);
    expect(outcomes.sort()).toEqual(["already-done", "confirmed"]);
    expect(await rootsPosted(4n)).toBe(1);
  });

  it("refuses to overwrite an epoch with a different root, and explains a revert", async () => {
    await expect(postRewardRoot(operator, addresses, 3n, keccak256(toHex("other")))).rejects.toThrow(
      /epoch 3 already has reward root/,
    );
    const stranger = users[0];
    await expect(postRewardRoot(stranger, addresses, 9n, keccak256(toHex("x")))).rejects.toThrow(ChainWriteError);
    await expect(postRewardRoot(stranger, addresses, 9n, keccak256(toHex("x")))).rejects.toThrow(
      /refused by the chain: AccessControlUnauthorizedAccount/,
    );
  });
});
