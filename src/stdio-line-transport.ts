import process from 'node:process';
import { serializeMessage, STDIO_DEFAULT_MAX_BUFFER_SIZE } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, JSONRPCMessageSchema, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';

/**
 * MCP over stdio, one JSON-RPC message per line, like the SDK's StdioServerTransport with two differences:
 * a line that is not JSON, or not JSON-RPC, is answered with the standard error (-32700 Parse error,
 * -32600 Invalid Request) instead of only being dropped, and a failure that ends the connection (a line
 * over the size limit, a broken stdin or stdout) is recorded in `failure` before `onclose`, so the process
 * can exit and let its client start a new one instead of staying alive and deaf.
 */
export class StdioLineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** Why the connection failed (set before onclose); undefined when the client simply closed stdin. */
  failure: string | undefined;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lineNumber = 0;
  private closed = false;

  constructor(
    private readonly stdin: NodeJS.ReadableStream = process.stdin,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    /** The SDK's limit (10 MiB): a longer line is a client bug or a stream out of step. */
    readonly maxLineBytes: number = STDIO_DEFAULT_MAX_BUFFER_SIZE,
  ) {}

  async start(): Promise<void> {
    this.stdin.on('data', this.onData);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('error', this.onStdinError);
    this.stdout.on('error', this.onStdoutError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      if (this.stdout.write(serializeMessage(message))) resolve();
      else this.stdout.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('error', this.onStdinError);
    this.stdout.off('error', this.onStdoutError);
    this.stdin.pause();
    this.pending = [];
    this.onclose?.();
  }

  private readonly onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let end = data.indexOf(0x0a, start); end !== -1 && !this.closed; end = data.indexOf(0x0a, start)) {
      const piece = data.subarray(start, end);
      const line = this.pendingBytes > 0 ? Buffer.concat([...this.pending, piece]) : piece;
      this.pending = [];
      this.pendingBytes = 0;
      start = end + 1;
      if (line.length > this.maxLineBytes) return this.fail(this.tooLong(line.length));
      this.onLine(line.toString('utf8').replace(/\r$/, ''));
    }
    if (this.closed || start >= data.length) return;
    this.pending.push(data.subarray(start));
    this.pendingBytes += data.length - start;
    // Checked before the line ends, so an endless line cannot fill the memory.
    if (this.pendingBytes > this.maxLineBytes) this.fail(this.tooLong(this.pendingBytes));
  };

  private onLine(line: string): void {
    this.lineNumber += 1;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      this.refuse(undefined, ErrorCode.ParseError, `Parse error: line ${this.lineNumber} on stdin is not JSON (${(error as Error).message})`);
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (parsed.success) return this.onmessage?.(parsed.data);
    const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    const reason = `Invalid Request: line ${this.lineNumber} on stdin is JSON but not a JSON-RPC 2.0 message (one object with "jsonrpc": "2.0" and a "method", or a response with "result" or "error")`;
    // A malformed answer to one of the server's own requests gets no answer back: that would only echo.
    if (record && ('result' in record || 'error' in record) && !('method' in record)) {
      this.onerror?.(new Error(`${reason}; ignored`));
      return;
    }
    this.refuse(requestIdOf(record), ErrorCode.InvalidRequest, reason);
  }

  /** Answers a line the server cannot use; an id it could not read is left out (the SDK's schema rejects null). */
  private refuse(id: RequestId | undefined, code: ErrorCode, message: string): void {
    this.onerror?.(new Error(`${message}; answered with JSON-RPC error ${code}. The client must send one JSON-RPC message per line.`));
    void this.send({ jsonrpc: '2.0', ...(id === undefined ? {} : { id }), error: { code, message } } as JSONRPCMessage);
  }

  private tooLong(bytes: number): string {
    const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
    return `a message on stdin ran past ${mib(bytes)} without a line end (the limit is ${mib(this.maxLineBytes)}), so the stream can no longer be split into messages`;
  }

  private fail(reason: string): void {
    if (this.closed) return;
    // Said once, by whoever handles onclose (the process exits): onerror would only repeat it.
    this.failure = reason;
    void this.close();
  }

  private readonly onEnd = (): void => {
    void this.close();
  };

  private readonly onStdinError = (error: Error): void => this.fail(`reading stdin failed: ${error.message}`);
  private readonly onStdoutError = (error: Error): void => this.fail(`writing stdout failed: ${error.message}`);
}

function requestIdOf(record: Record<string, unknown> | undefined): RequestId | undefined {
  const id = record?.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : undefined;
}
