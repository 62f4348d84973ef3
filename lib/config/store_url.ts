/** STORE_URL: which store the server keeps the bets in. */

/**
 * Why a STORE_URL value cannot name a PostgreSQL database, or undefined when
 * it can. The message never repeats the value, which may hold a password.
 */
export function storeUrlViolation(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return `has the scheme "${url.protocol.slice(0, -1)}", not postgres`;
  }
  if (url.hostname === "") return "names no host";
  return undefined;
}
