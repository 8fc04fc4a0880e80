// A real S3-compatible server for tests: SeaweedFS (`weed server -s3`) on free ports in a temp dir,
// with one identity whose keys are generated per run.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
    stopGraceMs: 3000,
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
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
    },
  };
}
