// A real S3-compatible server for tests: SeaweedFS (`weed server -s3`) on free ports in a temp dir,
// with one identity whose keys are generated per run.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnManaged } from "../process/managed";
import { findTool } from "../workflows/tools";

export interface SeaweedS3 {
  endPoint: string;
  port: number;
  useSSL: false;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

/** Weed leaves unix sockets named by port in /tmp (whatever TMPDIR says); remove ours. */
async function removeSockets(ports: readonly number[]): Promise<void> {
  const ours = new Set(ports.map(String));
  for (const name of await readdir("/tmp")) {
    const port = /^seaweedfs-[a-z0-9-]+-(\d+)\.sock$/.exec(name)?.[1];
    if (port !== undefined && ours.has(port)) await rm(join("/tmp", name), { force: true });
  }
}

/** Starts SeaweedFS with its S3 gateway; resolves once the gateway answers (about 3 s). */
export async function startSeaweedS3(): Promise<SeaweedS3> {
  const dir = await mkdtemp(join(tmpdir(), "ol-seaweed-"));
  const accessKey = `ak${randomBytes(8).toString("hex")}`;
  const secretKey = randomBytes(16).toString("hex");
  const configPath = join(dir, "s3.json");
  await writeFile(
    configPath,
    JSON.stringify({
      identities: [
        { name: "tests", credentials: [{ accessKey, secretKey }], actions: ["Admin", "Read", "Write", "List", "Tagging"] },
      ],
    }),
  );
  // Every component gets its own free HTTP and gRPC port, so parallel test files never collide.
  const ports: number[] = [];
  for (let i = 0; i < 8; i++) ports.push(await freePort());
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = ports as [
    number, number, number, number, number, number, number, number,
  ];
  const args = [
    "server",
    `-dir=${dir}`,
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    "-s3",
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    `-s3.config=${configPath}`,
    // Each bucket is a collection with its own volumes (several per growth step); volumes are sparse
    // files, so allow many small ones.
    "-volume.max=400",
    "-master.volumeSizeLimitMB=16",
    "-volume.preStopSeconds=0",
  ];
  const server = await spawnManaged(findTool("weed"), args, {
    readyPort: s3,
    readyTimeoutMs: 60000,
    stopGraceMs: 1000, // weed ignores SIGTERM for seconds; its data is throwaway
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    await removeSockets(ports);
    throw err;
  });
  return {
    endPoint: "127.0.0.1",
    port: s3,
    useSSL: false,
    accessKey,
    secretKey,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
      await removeSockets(ports);
    },
  };
}
