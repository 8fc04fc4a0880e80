// Files a running kernel keeps in its data dir, through which `ol` finds it: kernel.pid (its pid),
// kernel.json (its addresses, written once it is ready) and kernel.log (output of a detached kernel).
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { EmbeddedService, KernelAddresses } from "../kernel";

export interface KernelState {
  pid: number;
  startedAtMs: number;
  addresses: KernelAddresses;
  embedded: EmbeddedService[];
  /** True when this start created the bootstrap admin key (the detaching `ol up` prints it). */
  adminKeyCreated: boolean;
}

export function kernelFiles(dataDir: string): { pid: string; state: string; log: string } {
  return { pid: path.join(dataDir, "kernel.pid"), state: path.join(dataDir, "kernel.json"), log: path.join(dataDir, "kernel.log") };
}

/** Whether `pid` runs (a zombie, exited but not yet reaped, does not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false; // gone between the two checks
  }
}

/** The pid of a kernel running on this data dir, or null (a stale pid file is ignored). */
export function runningKernelPid(dataDir: string): number | null {
  const file = kernelFiles(dataDir).pid;
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

export function readKernelState(dataDir: string): KernelState | null {
  const file = kernelFiles(dataDir).state;
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, "utf8")) as KernelState;
}

export function writeKernelPid(dataDir: string, pid: number): void {
  writeFileSync(kernelFiles(dataDir).pid, `${pid}\n`);
}

export function writeKernelState(dataDir: string, state: KernelState): void {
  writeFileSync(kernelFiles(dataDir).state, `${JSON.stringify(state, null, 2)}\n`);
}

export function removeKernelFiles(dataDir: string): void {
  const files = kernelFiles(dataDir);
  rmSync(files.pid, { force: true });
  rmSync(files.state, { force: true });
}

/** Every process descended from `root` (children, grandchildren, ...), read from /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const siblings = children.get(ppid) ?? [];
    siblings.push(Number(entry));
    children.set(ppid, siblings);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}
