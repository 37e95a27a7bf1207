// RFC 5322 §2.2.3 header unfolding, line by line so that an .mbox of any size streams. Written by
// hand rather than with mailsplit: we only need the header section, mailsplit would also stream
// every body part through MIME parsing, and it does not know mbox `From ` separators.

export interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** Unfolded value, leading whitespace trimmed. */
  value: string;
  line: number;
}

const FIELD_NAME = /^([!-9;-~]+)[ \t]*:(.*)$/;

/** Collects header fields from lines fed one at a time; `addLine` returns false at the blank line. */
export class HeaderCollector {
  readonly fields: HeaderField[] = [];
  readonly problems: Array<{ line: number; message: string }> = [];
  #current: HeaderField | null = null;
  #sawField = false;

  addLine(rawLine: string, lineNumber: number): boolean {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    // Only an empty line ends the section: a whitespace-only line after a field is an (obsolete,
    // RFC 5322 §4.2) folded continuation, and real Microsoft-stamped messages contain them.
    if (line === '' || (line.trim() === '' && !this.#current)) {
      // Leading blank lines of a pasted block are not the end of the header section.
      if (!this.#sawField) return true;
      this.#flush();
      return false;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && this.#current) {
      const more = line.trim();
      if (more) this.#current.value += ' ' + more;
      return true;
    }
    const m = FIELD_NAME.exec(this.#sawField ? line : line.trimStart());
    if (!m) {
      if (this.problems.length < 5) this.problems.push({ line: lineNumber, message: `not a header field: ${JSON.stringify(line.slice(0, 60))}` });
      return true;
    }
    this.#flush();
    this.#current = { name: m[1].toLowerCase(), value: m[2].trim(), line: lineNumber };
    this.#sawField = true;
    return true;
  }

  finish(): HeaderField[] {
    this.#flush();
    return this.fields;
  }

  get sawField(): boolean { return this.#sawField; }

  #flush(): void {
    if (this.#current) this.fields.push(this.#current);
    this.#current = null;
  }
}

/** Parses a whole header text (tests, `analyze` on a string). */
export function parseHeaderText(text: string): HeaderField[] {
  const collector = new HeaderCollector();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!collector.addLine(lines[i], i + 1)) break;
  }
  return collector.finish();
}
