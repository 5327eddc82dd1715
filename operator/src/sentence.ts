/** Text for a condition message or an Event: one line, ending with a full stop. */
export function asSentence(s: string): string {
  const line = s.replace(/\s+/g, " ").trim();
  return line === "" || /[.!?]$/.test(line) ? line : `${line}.`;
}
