// RFC 2047 encoded words in Subject and display names: decoded for display only, never compared.

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeOne(charset: string, encoding: string, text: string): string | null {
  let bytes: Uint8Array;
  if (encoding.toUpperCase() === 'B') {
    bytes = Buffer.from(text, 'base64');
  } else {
    const ascii = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    bytes = Buffer.from(ascii, 'latin1');
  }
  try {
    return new TextDecoder(charset.replace(/\*.*$/, '')).decode(bytes);
  } catch {
    return null; // unknown charset: leave the encoded word as it was
  }
}

export function decodeEncodedWords(value: string): string {
  // Whitespace between two adjacent encoded words is not part of the text (RFC 2047 §6.2).
  const joined = value.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return joined.replace(ENCODED_WORD, (whole, charset: string, enc: string, text: string) => decodeOne(charset, enc, text) ?? whole);
}
