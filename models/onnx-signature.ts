import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { ModelLoadError } from './errors/model-load-error.js';

const { onnx } = onnxProto;

export interface OnnxValueInfo {
  name: string;
  /** Each dimension: a number, a symbolic name, or null when the file leaves it open. */
  dims: (number | string | null)[];
}

export interface OnnxSignature {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

// Protobuf field numbers from onnx.proto: ModelProto.graph, GraphProto.input/.output.
const MODEL_GRAPH = 7;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;

/**
 * Reads the graph's input and output names and shapes from an .onnx file without loading it: walks the
 * protobuf's top-level fields with positioned reads and skips the weights, so a 2 GB file costs a few
 * small reads. Used by `models pull` to write the manifest's inputs/output from the graph itself.
 */
export function readOnnxSignature(path: string): OnnxSignature {
  const fd = openSync(path, 'r');
  try {
    const reader = new FieldReader(fd);
    const graph = reader.fields(0, reader.size).find((f) => f.field === MODEL_GRAPH && f.wireType === 2);
    if (graph === undefined) throw new ModelLoadError(`${path} holds no ONNX graph; the file is not an ONNX model or is incomplete.`);
    const signature: OnnxSignature = { inputs: [], outputs: [] };
    for (const f of reader.fields(graph.start, graph.end)) {
      if (f.wireType !== 2 || (f.field !== GRAPH_INPUT && f.field !== GRAPH_OUTPUT)) continue;
      const info = onnx.ValueInfoProto.decode(reader.bytes(f.start, f.end));
      const dims = (info.type?.tensorType?.shape?.dim ?? []).map((d) =>
        d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : null,
      );
      (f.field === GRAPH_INPUT ? signature.inputs : signature.outputs).push({ name: info.name ?? '', dims });
    }
    return signature;
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(`Cannot read the graph of ${path} (${(err as Error).message}); the file is not an ONNX model or is incomplete.`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

interface Field {
  field: number;
  wireType: number;
  /** Byte range of a length-delimited field's payload. */
  start: number;
  end: number;
}

class FieldReader {
  readonly size: number;
  private readonly scratch = Buffer.alloc(10);

  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }

  bytes(start: number, end: number): Uint8Array {
    const buffer = Buffer.alloc(end - start);
    let done = 0;
    while (done < buffer.length) {
      const n = readSync(this.fd, buffer, done, buffer.length - done, start + done);
      if (n === 0) throw new Error('unexpected end of file');
      done += n;
    }
    return buffer;
  }

  /** Fields of the message in [start, end), payloads skipped. */
  fields(start: number, end: number): Field[] {
    const out: Field[] = [];
    let pos = start;
    while (pos < end) {
      const [tag, afterTag] = this.varint(pos);
      const field = Number(tag >> 3n);
      const wireType = Number(tag & 7n);
      pos = afterTag;
      if (wireType === 0) pos = this.varint(pos)[1];
      else if (wireType === 1) pos += 8;
      else if (wireType === 5) pos += 4;
      else if (wireType === 2) {
        const [length, afterLength] = this.varint(pos);
        out.push({ field, wireType, start: afterLength, end: afterLength + Number(length) });
        pos = afterLength + Number(length);
      } else throw new Error(`unsupported protobuf wire type ${wireType}`);
      if (pos > end) throw new Error('a field runs past the end of its message');
    }
    return out;
  }

  private varint(pos: number): [bigint, number] {
    const n = readSync(this.fd, this.scratch, 0, 10, pos);
    let value = 0n;
    for (let i = 0; i < n; i++) {
      const byte = this.scratch[i];
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) return [value, pos + i + 1];
    }
    throw new Error('truncated varint');
  }
}
