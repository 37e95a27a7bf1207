// A count with thousands separators, exactly as toLocaleString('en-US') writes it, without paying
// for that call's first use: it loads ICU's number formatting, about 40 ms of CPU, which a report
// over a 1M-row file (about two seconds in all) pays on its critical path (issue 17). Anything
// that is not a plain integer (fractions, -0, NaN, the infinities, beyond 2^53) still goes to
// toLocaleString, so the text never differs.

export function countText(x: number): string {
  if (!Number.isSafeInteger(x) || Object.is(x, -0)) return x.toLocaleString('en-US');
  const digits = String(x < 0 ? -x : x);
  const head = digits.length % 3 || 3;
  let out = digits.slice(0, head);
  for (let i = head; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return x < 0 ? `-${out}` : out;
}
