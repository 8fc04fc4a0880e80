// Minimal reader of safetensors files (the PEFT adapter_model.safetensors the converter reads).
import * as fs from "fs";

export interface SafeTensor {
  name: string;
  dtype: "F32" | "F16" | "BF16";
  /** PyTorch order, outermost first */
  shape: number[];
  data: Buffer;
}

const elementBytes = { F32: 4, F16: 2, BF16: 2 } as const;

export function readSafetensors(file: string): SafeTensor[] {
  const bytes = fs.readFileSync(file);
  if (bytes.length < 8) throw new Error(`${file}: too short for a safetensors file`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > bytes.length - 8) throw new Error(`${file}: header length ${headerLength} beyond the file`);
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const tensors: SafeTensor[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (!(info.dtype in elementBytes)) throw new Error(`${file}: ${name} has unsupported dtype ${info.dtype}`);
    const dtype = info.dtype as SafeTensor["dtype"];
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * elementBytes[dtype] || base + end > bytes.length)
      throw new Error(`${file}: ${name} data range does not match its shape`);
    tensors.push({ name, dtype, shape: info.shape, data: bytes.subarray(base + begin, base + end) });
  }
  return tensors;
}
