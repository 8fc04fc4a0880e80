// EIP-2612 permits for OpenToken: an owner's signed approval that anyone may submit.
import { parseSignature, type Address, type Hex } from "viem";
import type { ChainClients } from "./clients";

export interface PermitRequest {
  /** The OpenToken contract the permit is for. */
  token: Address;
  owner: Address;
  spender: Address;
  value: bigint;
  /** The owner's current `nonces(owner)`. */
  nonce: bigint;
  /** Unix seconds after which the permit is refused. */
  deadline: bigint;
}

/** The permit's signature as `permit(owner, spender, value, deadline, v, r, s)` takes it. */
export interface PermitSignature {
  v: number;
  r: Hex;
  s: Hex;
}

/** Signs a permit with the signer's account; only a signature by `owner` is accepted on chain. */
export async function signPermit(signer: ChainClients, permit: PermitRequest): Promise<PermitSignature> {
  const { token, owner, spender, value, nonce, deadline } = permit;
  const signature = parseSignature(
    await signer.walletClient.signTypedData({
      // OpenToken's EIP-712 domain (its ERC20Permit name and version).
      domain: { name: "OpenLedger", version: "1", chainId: signer.chain.id, verifyingContract: token },
      types: {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      primaryType: "Permit",
      message: { owner, spender, value, nonce, deadline },
    }),
  );
  return { v: 27 + signature.yParity, r: signature.r, s: signature.s };
}
