/** Parsers for cell values: numbers, dates -> years since 1970 (docs/method.md#datasets), split flags. */

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number, or undefined for anything else (empty, NaN, inf, hex, words). */
export function parseNumber(text: string): number | undefined {
  const s = text.trim();
  if (!NUMBER_RE.test(s)) return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** Nanoseconds per (Julian) year: the paper divides int64 ns since the epoch by 1e9*60*60*24*365.25. */
export const NS_PER_YEAR = 1e9 * 60 * 60 * 24 * 365.25;

const DATE_RE =
  /^([+-]?\d{4,6})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:\s*(Z|[+-]\d{2}(?::?\d{2})?))?)?)?)?$/i;

/**
 * Parses an ISO 8601 date or timestamp (YYYY, YYYY-MM, YYYY-MM-DD, optional time THH:MM[:SS[.frac]] and zone
 * Z / +HH:MM / +HHMM / +HH; no zone = UTC) into years since 1970-01-01, exactly as the paper does:
 * int64 nanoseconds since the epoch (proleptic Gregorian, UTC) converted to float64 and divided by NS_PER_YEAR.
 * Returns undefined when the text is not such a date or names an impossible day or time.
 */
export function parseDateToYears(text: string): number | undefined {
  const ns = parseDateToNs(text);
  return ns === undefined ? undefined : ns / NS_PER_YEAR;
}

/** Nanoseconds since the epoch as the float64 nearest the exact int64 value (numpy's int64 -> float64). */
export function parseDateToNs(text: string): number | undefined {
  if (text.length === 10) {
    const ns = plainDateNs(text);
    if (ns !== undefined) return ns;
  }
  const m = DATE_RE.exec(text.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 1;
  const day = m[3] ? Number(m[3]) : 1;
  const hour = m[4] ? Number(m[4]) : 0;
  const minute = m[5] ? Number(m[5]) : 0;
  const second = m[6] ? Number(m[6]) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = m[8] ? zoneOffsetSeconds(m[8]) : 0;
  if (offset === undefined) return undefined;
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  const fraction = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
  // seconds * 1e9 is one correctly rounded product, i.e. the float nearest the exact ns count; with a
  // sub-second part the exact sum is formed in BigInt and rounded once by Number().
  return fraction === 0 ? seconds * 1e9 : Number(BigInt(seconds) * 1_000_000_000n + BigInt(fraction));
}

/** Fast path for the common YYYY-MM-DD (art's release dates); undefined sends the text to the full parser. */
function plainDateNs(t: string): number | undefined {
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45) return undefined;
  let year = 0;
  for (let i = 0; i < 4; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    year = year * 10 + d;
  }
  const month = twoDigits(t, 5);
  const day = twoDigits(t, 8);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return daysFromCivil(year, month, day) * 86400 * 1e9;
}

function twoDigits(t: string, at: number): number {
  const a = t.charCodeAt(at) - 48;
  const b = t.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function zoneOffsetSeconds(zone: string): number | undefined {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 3600 + minutes * 60);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The proleptic Gregorian year of a day count since 1970-01-01 (inverse of daysFromCivil, H. Hinnant's civil_from_days). */
export function civilYearFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return yoe + era * 400 + (mp >= 10 ? 1 : 0); // March-based year: January and February belong to the next one
}

const TRUE_VALUES = new Set(['true', '1', '1.0', 'yes', 't', 'y']);
const FALSE_VALUES = new Set(['false', '0', '0.0', 'no', 'f', 'n']);

/** A split flag: True/False (pandas), true/false, 1/0, yes/no; undefined for anything else. */
export function parseFlag(text: string): boolean | undefined {
  const s = text.trim().toLowerCase();
  if (TRUE_VALUES.has(s)) return true;
  if (FALSE_VALUES.has(s)) return false;
  return undefined;
}
