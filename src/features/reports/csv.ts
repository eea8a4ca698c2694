/**
 * RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled, CRLF line ends.
 *
 * Cells a spreadsheet would run as a formula get a leading apostrophe (OWASP's neutralisation: the text
 * stays readable, nothing executes): a leading `=` or `@`, a leading tab or CR (some apps strip them
 * first), and a leading `+` or `-` unless the whole cell is a plain number. A plain number is what a
 * spreadsheet reads as a value, not an expression, so E.164 phone numbers (`+4791234567`) and negative
 * amounts (`-3.5`) stay exactly as stored; `+1-2`, `-2+3` and `+47 912 34 567` are expressions (a space
 * is Excel's intersection operator) and are neutralised.
 */
const ALWAYS_FORMULA = /^[=@\t\r]/;
const SIGNED = /^[+-]/;
const PLAIN_NUMBER = /^[+-](?:\d+(?:\.\d+)?|\.\d+)$/;
const NEEDS_QUOTES = /[",\r\n]/;

function wouldEvaluate(s: string): boolean {
  return ALWAYS_FORMULA.test(s) || (SIGNED.test(s) && !PLAIN_NUMBER.test(s));
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (wouldEvaluate(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
