// The part of mailsplit's API the banner rewrite uses (the package ships no types).
declare module 'mailsplit' {
  import type { Transform } from 'node:stream';

  export interface MimeNode {
    type: 'node';
    root: boolean;
    parentNode: MimeNode | false;
    /** Lower-cased `type/subtype`, text/plain when the part has no Content-Type. */
    contentType: string | false;
    /** The multipart subtype (`mixed`, `alternative`, …) or false. */
    multipart: string | false;
    charset: string | false;
    /** Lower-cased Content-Transfer-Encoding, '' when there is none. */
    encoding: string | false;
    disposition: string | false;
    filename: string | false;
    rfc822: boolean;
    /** The head as it came, byte for byte while nothing was changed. */
    getHeaders(): Buffer;
  }

  export interface SplitChunk {
    type: 'data' | 'body';
    node: MimeNode;
    value: Buffer;
  }

  export class Splitter extends Transform {
    constructor(options?: { ignoreEmbedded?: boolean; maxHeadSize?: number; maxChildNodes?: number });
    [Symbol.asyncIterator](): AsyncIterableIterator<MimeNode | SplitChunk>;
  }
}
