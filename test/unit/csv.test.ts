import test from 'ava';
import { csvCell, csvRow } from '../../src/features/reports/csv.js';

/** [cell as stored, cell as exported] */
const CASES: Array<[string, string]> = [
  // Values a spreadsheet reads as numbers: kept exactly, so phone numbers and amounts survive a round trip.
  ['+4791234567', '+4791234567'],
  ['+14155550123', '+14155550123'],
  ['-3.5', '-3.5'],
  ['-42', '-42'],
  ['+0.25', '+0.25'],
  ['-.5', '-.5'],
  // Expressions: a leading sign followed by anything but a plain number.
  ['+1-2', "'+1-2"],
  ['-2+3', "'-2+3"],
  ['+47 912 34 567', "'+47 912 34 567"],
  ['-1e5', "'-1e5"],
  ['+', "'+"],
  ['-', "'-"],
  ["+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"],
  ['-cmd|x', "'-cmd|x"],
  // Always evaluated (or stripped to something evaluated): =, @, tab, CR at the start.
  ['=SUM(A1)', "'=SUM(A1)"],
  ['@cmd', "'@cmd"],
  ['\t=1+1', "'\t=1+1"],
  ['=HYPERLINK("http://evil.example","x")', `"'=HYPERLINK(""http://evil.example"",""x"")"`],
  ['\r=1', `"'\r=1"`],
  // Ordinary text, including formula characters later in the cell.
  ['Ada Lovelace', 'Ada Lovelace'],
  ['a=b', 'a=b'],
  ['ada@example.com', 'ada@example.com'],
  ['4791234567', '4791234567'],
  ['', ''],
];

for (const [stored, exported] of CASES) {
  test(`csv cell ${JSON.stringify(stored)} is exported as ${JSON.stringify(exported)}`, (t) => {
    t.is(csvCell(stored), exported);
  });
}

test('csv rows quote commas and quotes, end in CRLF, and leave null and numbers plain', (t) => {
  t.is(csvRow(['a,b', 'say "hi"', null, undefined, -7, 3.25]), '"a,b","say ""hi""",,,-7,3.25\r\n');
});
