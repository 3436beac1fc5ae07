// Finds the README's TypeScript and JavaScript blocks and what each may be used for.
//
// A block is a complete ES module that runs as written, unless the line right before its fence
// (blank lines between are allowed) is one of these markers:
//
//   <!-- readme: compile-only: <why it cannot run here> -->
//       type-checked only; the reason is required.
//   <!-- readme: with-provider -->
//       runs after a NodeTracerProvider with SGPSpanProcessor is registered, as in the Quickstart
//       (test/readme/quickstart-provider.mjs); the README says so next to the block.
//   <!-- readme: handler <event as JSON> -->
//       a module exporting `handler`: called once with the event, then the process exits at once,
//       as a serverless runtime freezes it (test/readme/invoke-handler.mjs).
//   <!-- readme: value [TypeName] -->
//       a value shown for illustration, checked as an expression (of that sgp-otel type when named).

export type Marker =
  | { kind: 'program' }
  | { kind: 'compile-only'; reason: string }
  | { kind: 'with-provider' }
  | { kind: 'handler'; event: unknown }
  | { kind: 'value'; type: string | undefined };

export interface Block {
  /** "Quickstart > NodeSDK": the headings the block sits under. */
  heading: string;
  /** 1-based README line of the block's first code line. */
  line: number;
  lang: 'ts' | 'js';
  code: string;
  marker: Marker;
}

const LANGS: Record<string, 'ts' | 'js'> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'js' };
const MARKER = /^<!--\s*readme:\s*(.*?)\s*-->$/;

export function parseMarker(text: string): Marker {
  const [, word = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(text) ?? [];
  switch (word) {
    case 'compile-only:':
      if (rest) return { kind: 'compile-only', reason: rest };
      break;
    case 'with-provider':
      if (!rest) return { kind: 'with-provider' };
      break;
    case 'handler':
      return { kind: 'handler', event: JSON.parse(rest || 'null') };
    case 'value':
      if (/^[A-Za-z]*$/.test(rest)) return { kind: 'value', type: rest || undefined };
      break;
  }
  throw new Error(`unknown README marker "<!-- readme: ${text} -->" (see test/readme/blocks.ts)`);
}

/** Every fenced block in a language we check, with its marker, in README order. */
export function extractBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let h2 = '';
  let h3 = '';
  for (let i = 0; i < lines.length; i += 1) {
    const fence = /^```(\S*)/.exec(lines[i]);
    if (!fence) {
      if (lines[i].startsWith('## ')) [h2, h3] = [lines[i].slice(3), ''];
      if (lines[i].startsWith('### ')) h3 = lines[i].slice(4);
      continue;
    }
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README line ${i + 1}: unclosed code block`);
    const lang = LANGS[fence[1]];
    if (lang) {
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === '') before -= 1;
      const marked = MARKER.exec(lines[before]?.trim() ?? '');
      blocks.push({
        heading: h3 ? `${h2} > ${h3}` : h2,
        line: i + 2,
        lang,
        code: lines.slice(i + 1, end).join('\n'),
        marker: marked ? parseMarker(marked[1]) : { kind: 'program' },
      });
    }
    i = end;
  }
  return blocks;
}

/** Blocks that run as child processes. */
export const runs = (block: Block): boolean => block.marker.kind !== 'compile-only' && block.marker.kind !== 'value';
