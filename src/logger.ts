/** stdout carries MCP protocol messages only; every log line goes to stderr. */
export function logToStderr(message: string): void {
  process.stderr.write(`[codecarto] ${message}\n`);
}
