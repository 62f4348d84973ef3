/** Command-line arguments as scripts receive them from `deno task`. */

/**
 * Drops the `--` that `deno task NAME -- --flag` passes through.
 * @example withoutTaskSeparator(["--", "--quick"]) // ["--quick"]
 */
export function withoutTaskSeparator(args: readonly string[]): string[] {
  return args[0] === "--" ? args.slice(1) : [...args];
}
