// One message explained (issue 5 `mxward analyze`, issue 13 POST /analyze): its header section
// read once, never its body, then attribution, Direct Send verdict, compauth and the evidence
// for and against its source, as analyzeMessage (report/) gives them.
import { analyzeMessage } from '../report/analyze-message.ts';
import type { MessageAnalysis } from '../report/analyze-message.ts';
import { HeaderCollector } from '../report/import/header-block.ts';
import { decodeChunks } from '../report/import/text-input.ts';

export interface HeaderProblem { line: number; message: string }

/** Reads only the header section: the body is never loaded. */
export async function readHeaderFields(source: AsyncIterable<Uint8Array | string>) {
  const collector = new HeaderCollector();
  let lineNumber = 0;
  let leftover = '';
  let done = false;
  for await (const chunk of decodeChunks(source)) {
    const text = leftover + chunk;
    let pos = 0;
    for (let nl = text.indexOf('\n'); nl >= 0 && !done; nl = text.indexOf('\n', pos)) {
      const line = text.slice(pos, nl);
      pos = nl + 1;
      lineNumber++;
      // An mbox "From " separator line opens the first message.
      if (lineNumber === 1 && line.startsWith('From ')) continue;
      if (!collector.addLine(line, lineNumber)) done = true;
    }
    if (done) break;
    leftover = text.slice(pos);
  }
  if (!done && leftover) collector.addLine(leftover, lineNumber + 1);
  return { fields: collector.finish(), problems: collector.problems as HeaderProblem[] };
}

/** The analysis, or null when the input has no header field at all (not a message). */
export async function analyzeOne(source: AsyncIterable<Uint8Array | string>, acceptedDomains: string[], name: string): Promise<{ analysis: MessageAnalysis | null; problems: HeaderProblem[] }> {
  const { fields, problems } = await readHeaderFields(source);
  return { analysis: fields.length === 0 ? null : analyzeMessage(fields, acceptedDomains, name), problems };
}
