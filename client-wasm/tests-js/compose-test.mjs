// The Chat page's input rules (demo/compose.js) in Node: what a typed line becomes, the command
// history and @name completion, including the lines a person gets wrong.

import assert from "node:assert/strict";

import { InputHistory, complete, completions, parseInput } from "../demo/compose.js";

const me = { userId: "-1", displayName: "ann" };
const users = [me, { userId: "-2", displayName: "Bob" }, { userId: "-3", displayName: "bobby" }];
const parse = (text) => parseInput(text, { users, me });

function parsing() {
  assert.equal(parse("   "), null);
  assert.deepEqual(parse(" hello there "), { kind: "chat", to: null, message: "hello there" });
  assert.deepEqual(parse("@bob hi"), { kind: "chat", to: users[1], message: "hi" }, "names ignore case");
  assert.deepEqual(parse("@me note"), { kind: "chat", to: { userId: "-1", displayName: "ann" }, message: "note" });
  assert.deepEqual(parse("/cmd.announce Hello all"), { kind: "raw", to: null, selector: "cmd.announce", message: "Hello all" });
  assert.deepEqual(parse("/cmd.toggle$#channels"), { kind: "raw", to: null, selector: "cmd.toggle$#channels", message: null });
  assert.deepEqual(parse("@bobby /tv.watch http://x/v.webm"), { kind: "raw", to: users[2], selector: "tv.watch", message: "http://x/v.webm" });
  assert.deepEqual(parse("/join lobby"), { kind: "command", command: "join", argument: "lobby" });
  assert.deepEqual(parse("/HELP"), { kind: "command", command: "help", argument: null });
  assert.throws(() => parse("@nobody hi"), /nobody called @nobody is here/);
  assert.throws(() => parse("@bob"), /nothing to send to @bob/);
  assert.throws(() => parse("@ hi"), /write a user name after @/);
  assert.throws(() => parse("/"), /write a selector after \//);
  assert.throws(() => parse("@bob /join x"), /page command/);
}

function history() {
  const h = new InputHistory(3);
  assert.equal(h.previous("draft"), "draft", "nothing sent yet");
  for (const line of ["one", "two", "two", "three", "four"]) h.push(line);
  assert.deepEqual(h.items, ["two", "three", "four"], "no repeats, at most the limit");
  assert.equal(h.previous("typing"), "four");
  assert.equal(h.previous("four"), "three");
  assert.equal(h.previous("three"), "two");
  assert.equal(h.previous("two"), "two", "stays at the oldest");
  assert.equal(h.next(), "three");
  assert.equal(h.next(), "four");
  assert.equal(h.next(), "typing", "past the newest: the draft");
  assert.equal(h.next(), "typing");
}

function completion() {
  const names = ["ann", "Bob", "bobby"];
  assert.equal(completions("hello", 5, names), null, "no @");
  assert.equal(completions("mail@bo", 7, names), null, "an @ inside a word");
  assert.equal(completions("@bob hi", 7, names), null, "the caret after the name's end");
  const found = completions("hi @BO", 6, names);
  assert.deepEqual(found, { start: 4, end: 6, matches: ["Bob", "bobby"] });
  assert.deepEqual(complete("hi @BO", found, "Bob"), { value: "hi @Bob ", caret: 8 });
  assert.deepEqual(completions("@m", 2, names).matches, ["me"]);
  const middle = completions("@bo and more", 3, names);
  assert.deepEqual(complete("@bo and more", middle, "bobby"), { value: "@bobby and more", caret: 7 });
}

/** Resolves with `{ ok, error?, ms }`. */
export async function runComposeTest() {
  const started = Date.now();
  try {
    parsing();
    history();
    completion();
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, ms: Date.now() - started, error: error.stack ?? error.message };
  }
}
