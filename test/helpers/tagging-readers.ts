// Python's email package (policy.default) reading every leaf part of a message, for the external
// tagging tests (issue 18): type, charset, disposition, decoded text and a digest of the decoded
// bytes. One python3 process reads a whole batch.
import { runPythonPerMessage } from './message-readers.ts';

export interface PyPart { type: string; charset: string | null; disposition: string | null; readable: boolean; text?: string; error?: string; sha256: string; defects: string[] }
export interface PyReading { parts: PyPart[]; defects: string[] }

// Every leaf part, depth first, as Python's email package (policy.default) decodes it; parts inside
// an embedded message or a signed/encrypted multipart are marked unreadable (not banner targets).
const PYTHON_PARTS = String.raw`
import sys, json, base64, email, hashlib
from email import policy
def walk(m, readable, parts):
    ct = m.get_content_type()
    if ct == 'message/rfc822':
        for inner in m.get_payload():
            walk(inner, False, parts)
        return
    if m.is_multipart():
        sub = m.get_content_subtype()
        for p in m.get_payload():
            walk(p, readable and sub in ('mixed', 'alternative', 'related'), parts)
        return
    entry = {'type': ct, 'charset': m.get_content_charset(), 'disposition': m.get_content_disposition(), 'readable': readable,
             'defects': [type(d).__name__ for d in m.defects]}
    if m.get_content_maintype() == 'text':
        try:
            entry['text'] = m.get_content()
        except Exception as e:
            entry['error'] = repr(e)
    entry['sha256'] = hashlib.sha256(m.get_payload(decode=True) or b'').hexdigest()
    parts.append(entry)
for line in sys.stdin:
    msg = email.message_from_bytes(base64.b64decode(line.strip()), policy=policy.default)
    parts = []
    walk(msg, True, parts)
    print(json.dumps({'parts': parts, 'defects': [type(d).__name__ for d in msg.defects]}), flush=True)
`;

export function readParts(messages: Buffer[]): Promise<PyReading[]> {
  return runPythonPerMessage<PyReading>(PYTHON_PARTS, messages);
}

