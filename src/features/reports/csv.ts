/**
 * RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled, CRLF line ends.
 * Cells that a spreadsheet would run as a formula (= + - @, and tab/CR that some apps strip first) get a
 * leading apostrophe, the OWASP-recommended neutralisation: the text stays readable, nothing executes.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
