// What the person types into the message box: parsing a line into what to send, the command
// history behind the up and down keys, and completing `@name`s. No DOM and no network here.

/**
 * Parses one input line:
 * - `text` → a chat to the active channel;
 * - `@user text` / `@me text` → a private chat;
 * - `/op.target[$css] message` → a raw selector to the channel; with `@user ` or `@me ` in
 *   front, to that user only;
 * - `/word [argument]` (no dot) → a page command (`/join`, `/leave`, `/help`).
 *
 * `users` are the subscribers the page knows (`{ userId, displayName }`), `me` the page's own
 * subscription. Returns `null` for a blank line; throws an `Error` whose message is for the
 * person (an unknown user, nothing to send).
 */
export function parseInput(text, { users, me }) {
  let rest = text.trim();
  if (!rest) return null;
  let to = null;
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest.slice(1) : rest.slice(1, space);
    rest = space < 0 ? "" : rest.slice(space + 1).trim();
    if (!name) throw new Error("write a user name after @");
    if (name.toLowerCase() === "me") {
      to = { userId: me.userId, displayName: me.displayName };
    } else {
      to = users.find((user) => user.displayName.toLowerCase() === name.toLowerCase());
      if (!to) throw new Error(`nobody called @${name} is here`);
    }
    if (!rest) throw new Error(`nothing to send to @${name}`);
  }
  if (rest.startsWith("/")) {
    const space = rest.indexOf(" ");
    const word = space < 0 ? rest.slice(1) : rest.slice(1, space);
    const argument = space < 0 ? null : rest.slice(space + 1).trim();
    if (!word) throw new Error("write a selector after /, such as /cmd.announce Hello");
    if (!word.includes(".")) {
      if (to) throw new Error(`/${word} is a page command; it cannot be sent to @${to.displayName}`);
      return { kind: "command", command: word.toLowerCase(), argument };
    }
    return { kind: "raw", to, selector: word, message: argument };
  }
  return { kind: "chat", to, message: rest };
}

/** The lines sent before, walked with the up and down keys (the current draft is kept). */
export class InputHistory {
  constructor(limit = 200) {
    this.limit = limit;
    this.items = [];
    this.index = 0;
    this.draft = "";
  }

  /** Remembers a sent line and goes back to the end of the list. */
  push(line) {
    if (line && this.items[this.items.length - 1] !== line) this.items.push(line);
    if (this.items.length > this.limit) this.items.shift();
    this.index = this.items.length;
    this.draft = "";
  }

  /** The line before the one shown (`current` is kept as the draft when leaving it). */
  previous(current) {
    if (this.index === this.items.length) this.draft = current;
    if (this.index > 0) this.index--;
    return this.items[this.index] ?? current;
  }

  /** The line after the one shown; past the last, the draft. */
  next() {
    if (this.index < this.items.length) this.index++;
    return this.index === this.items.length ? this.draft : this.items[this.index];
  }
}

/**
 * The `@name` being typed before `caret`, and the user names that complete it (`me` first
 * when it matches): `{ start, end, matches }`, or `null` when the caret is not in an `@word`.
 */
export function completions(text, caret, names) {
  const before = text.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at < 0 || (at > 0 && !/\s/.test(before[at - 1]))) return null;
  const prefix = before.slice(at + 1);
  if (/\s/.test(prefix)) return null;
  const wanted = prefix.toLowerCase();
  const matches = ["me", ...names].filter((name, i, all) => all.indexOf(name) === i && name.toLowerCase().startsWith(wanted));
  let end = caret;
  while (end < text.length && !/\s/.test(text[end])) end++;
  return { start: at + 1, end, matches };
}

/** `text` with the `@word` at `start..end` replaced by `name` and a space; and the new caret. */
export function complete(text, { start, end }, name) {
  const after = text.slice(end).replace(/^\s*/, "");
  const value = `${text.slice(0, start)}${name} ${after}`;
  return { value, caret: start + name.length + 1 };
}
