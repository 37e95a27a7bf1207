// The first thing the report says (issue 12): what enforcing Reject Direct Send would stop, and
// which authorised senders it would cut off unless the suggested connectors are added. Attacks
// and unknown sources are never counted together with authorised senders. A run that read no
// row, or a file that was skipped whole, says so here instead of "would reject 0".
import type { SourceStats } from './aggregate.ts';
import type { LabelledSource } from './labels.ts';
import type { ConnectorRecommendation } from './recommend.ts';
import { countText } from './count-text.ts';

export interface Headline {
  /** One sentence, the same in text and HTML. */
  text: string;
  /** Further lines: unreadable inputs, the make-up of the stopped group. */
  notes: string[];
  stop: { sources: number; messages: number; suspicious: number; unknown: number; forwarders: number };
  cut: { sources: number; messages: number };
  connectors: string[];
  unread: Array<{ file: string; problems: number }>;
}

const n = countText;
const plural = (x: number, one: string, many: string): string => `${n(x)} ${x === 1 ? one : many}`;

export function buildHeadline(labelled: Array<{ source: SourceStats; label: LabelledSource }>, recs: ConnectorRecommendation[],
  read: { rows: number; problems: number; unread: Array<{ file: string; problems: number }> }): Headline {
  const stop = { sources: 0, messages: 0, suspicious: 0, unknown: 0, forwarders: 0 };
  const cut = { sources: 0, messages: 0 };
  for (const { source, label } of labelled) {
    if (source.wouldReject === 0) continue;
    if (label.label === 'authorised') { cut.sources++; cut.messages += source.wouldReject; continue; }
    stop.sources++;
    stop.messages += source.wouldReject;
    if (label.label === 'suspicious') stop.suspicious++;
    else if (label.label === 'forwarder') stop.forwarders++;
    else stop.unknown++;
  }
  const notes: string[] = read.unread.map((u) => `${u.file}: not read, all of it skipped (${plural(u.problems, 'problem', 'problems')}; see the problems below)`);
  let text: string;
  if (read.rows === 0) {
    text = read.problems > 0
      ? `Nothing was read: every row or file was skipped (${plural(read.problems, 'problem', 'problems')}), so this report cannot say what enforcing would do.`
      : 'Nothing was read: the input held no rows, so this report cannot say what enforcing would do.';
  } else {
    const stopped = `Enforcing Reject Direct Send would stop ${plural(stop.sources, 'attack or unknown source', 'attack or unknown sources')} (${plural(stop.messages, 'message', 'messages')})`;
    text = cut.sources === 0
      ? `${stopped} and cut off no sender with evidence of authorisation: no connector is needed.`
      : `${stopped} and cut off ${plural(cut.sources, 'authorised sender', 'authorised senders')} (${plural(cut.messages, 'message', 'messages')}) unless you add ${recs.length === 1 ? 'this connector' : 'these connectors'}:`;
    if (stop.sources) notes.push(`Of the sources it would stop: ${n(stop.suspicious)} with evidence against them, ${n(stop.unknown)} unknown (no evidence either way: decide), ${n(stop.forwarders)} forwarder(s) (ask for SRS or trust their ARC seal).`);
  }
  return { text, notes, stop, cut, connectors: recs.map((r) => r.name), unread: read.unread };
}
