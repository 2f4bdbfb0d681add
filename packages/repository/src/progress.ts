/** Progress of a long operation, reported in bytes; the CLI renders it as a bar or as log lines. */
export interface Progress {
  start(label: string, totalBytes: number): void;
  advance(bytes: number): void;
  done(): void;
}
