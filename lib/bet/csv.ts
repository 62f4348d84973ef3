/**
 * RFC 4180 CSV, one record per line. Fields with a comma or a quote are
 * quoted and inner quotes doubled; records never span lines (the bet rules
 * forbid line breaks in fields), so a file streams line by line.
 */

const _NEEDS_QUOTES = /[",\r\n]/;

/**
 * Formats one field, quoting it only when needed.
 * @example formatCsvField('Pérez, "Tito"') // '"Pérez, ""Tito"""'
 */
export function formatCsvField(text: string): string {
  if (!_NEEDS_QUOTES.test(text)) return text;
  return `"${text.replaceAll('"', '""')}"`;
}

/** Formats one record as a line, newline included. */
export function formatCsvRecord(fields: readonly string[]): string {
  return fields.map(formatCsvField).join(",") + "\n";
}

/**
 * Splits one CSV line into fields.
 * @param line a record without its line break
 * @returns the unquoted fields
 * @throws {SyntaxError} on a stray quote or an unterminated quoted field
 */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let index = 0;
  while (true) {
    if (line.charCodeAt(index) === 0x22) {
      let value = "";
      let start = index + 1;
      while (true) {
        const quote = line.indexOf('"', start);
        if (quote === -1) throw new SyntaxError("unterminated quoted field");
        value += line.slice(start, quote);
        if (line.charCodeAt(quote + 1) === 0x22) {
          value += '"';
          start = quote + 2;
          continue;
        }
        index = quote + 1;
        break;
      }
      fields.push(value);
      if (index === line.length) return fields;
      if (line.charCodeAt(index) !== 0x2c) {
        throw new SyntaxError(
          `unexpected character after a quoted field at column ${index + 1}`,
        );
      }
      index += 1;
    } else {
      const comma = line.indexOf(",", index);
      const end = comma === -1 ? line.length : comma;
      const value = line.slice(index, end);
      if (value.includes('"')) {
        throw new SyntaxError(
          `stray quote in an unquoted field at column ${index + 1}`,
        );
      }
      fields.push(value);
      if (comma === -1) return fields;
      index = comma + 1;
    }
  }
}

/** One line of a text stream with its 1-based number. */
export interface NumberedLine {
  lineNumber: number;
  text: string;
}

/**
 * Streams the lines of a byte stream without holding the whole stream.
 * A trailing `\r` is dropped; a last line without a line break is yielded.
 * @param stream UTF-8 bytes
 * @param lineBytesMax longest line accepted
 * @throws {RangeError} when a line exceeds `lineBytesMax`
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  lineBytesMax: number,
): AsyncGenerator<NumberedLine> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending = "";
  let lineNumber = 0;
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    while (true) {
      const newline = pending.indexOf("\n", start);
      if (newline === -1) break;
      lineNumber += 1;
      const text = _stripCr(pending.slice(start, newline));
      _checkLineBytes(text, lineNumber, lineBytesMax);
      yield { lineNumber, text };
      start = newline + 1;
    }
    pending = pending.slice(start);
    // Counting UTF-16 units bounds memory cheaply while a line is incomplete
    // (its bytes are measured once it is); a trailing "\r" may start a CRLF.
    if (_stripCr(pending).length > lineBytesMax) throw _tooLong(lineNumber + 1, lineBytesMax);
  }
  pending += decoder.decode();
  if (pending.length > 0) {
    const text = _stripCr(pending);
    _checkLineBytes(text, lineNumber + 1, lineBytesMax);
    yield { lineNumber: lineNumber + 1, text };
  }
}

const _encoder = new TextEncoder();

/** Throws when a line's UTF-8 encoding is longer than `lineBytesMax`. */
function _checkLineBytes(line: string, lineNumber: number, lineBytesMax: number): void {
  // A UTF-16 unit takes 1 to 3 UTF-8 bytes: encode only when it can matter.
  if (line.length * 3 <= lineBytesMax) return;
  if (line.length <= lineBytesMax && _encoder.encode(line).length <= lineBytesMax) return;
  throw _tooLong(lineNumber, lineBytesMax);
}

function _tooLong(lineNumber: number, lineBytesMax: number): RangeError {
  return new RangeError(`line ${lineNumber} is longer than ${lineBytesMax} bytes`);
}

function _stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
