/** Reads generated compose and stack files back the way Docker's tools read them. */

import { load, YAML11_SCHEMA } from "js-yaml";

/**
 * Parses YAML with YAML 1.1's types, as PyYAML in docker-compose v1 and
 * docker stack deploy read a file: unquoted yes, on, 0755, 1:20 or
 * 1944-02-10 come back as booleans, numbers or dates, not strings.
 * @throws {Error} when the text is not YAML
 */
export function parseYaml11(text: string): unknown {
  return load(text, { schema: YAML11_SCHEMA });
}
