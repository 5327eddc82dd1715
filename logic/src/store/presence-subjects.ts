/**
 * Subjects of the JetStream presence table (docs/presence.md): an entry is
 * `<prefix>.presence.e.<room>.<user>.<owner>`, a lease
 * `<prefix>.presence.l.<owner>`; every name is one token, `x` + the hex of its
 * UTF-8 (never empty, no dots or wildcards).
 */
export class PresenceSubjects {
  /** `<prefix>.presence` */
  readonly base: string;

  constructor(subjectPrefix: string) {
    this.base = `${subjectPrefix}.presence`;
  }

  entry(room: string, user: string, owner: string): string {
    return `${this.base}.e.${encodeToken(room)}.${encodeToken(user)}.${encodeToken(owner)}`;
  }

  lease(owner: string): string {
    return `${this.base}.l.${encodeToken(owner)}`;
  }

  /** What a subject of the table names; undefined for anything else. */
  parse(
    subject: string,
  ):
    | { kind: "entry"; room: string; user: string; owner: string }
    | { kind: "lease"; owner: string }
    | undefined {
    const t = subject.split(".");
    const n = t.length;
    if (t[n - 4] === "e")
      return {
        kind: "entry",
        room: decodeToken(t[n - 3]),
        user: decodeToken(t[n - 2]),
        owner: decodeToken(t[n - 1]),
      };
    if (t[n - 2] === "l") return { kind: "lease", owner: decodeToken(t[n - 1]) };
    return undefined;
  }
}

function encodeToken(s: string): string {
  return `x${Buffer.from(s).toString("hex")}`;
}

function decodeToken(t: string | undefined): string {
  return Buffer.from((t ?? "x").slice(1), "hex").toString();
}
