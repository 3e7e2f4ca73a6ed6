// Driving a page as a person would, through WebDriver: typing into elements, clicking, and
// waiting (with a timeout) for a condition evaluated in the page.

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/** WebDriver key codes for `type`. */
export const KEYS = { enter: "\uE007", tab: "\uE004", up: "\uE013", down: "\uE015", escape: "\uE00C" };

/**
 * Waits until the JavaScript expression `predicate` is truthy in the page, polling; returns its
 * value. On timeout it fails with `what` and the page's log (`#log`, else the body text).
 */
export async function waitInPage(browser, predicate, what, timeoutMs = 5000, name = "page") {
  await browser.setScriptTimeout(timeoutMs + 2000);
  const outcome = await browser.executeAsync(
    `const [source, timeoutMs, done] = arguments;
     const predicate = new Function("return (" + source + ")");
     const started = Date.now();
     (function poll() {
       let value;
       try { value = predicate(); } catch (e) { value = undefined; }
       if (value) return done({ ok: true, value });
       if (Date.now() - started > timeoutMs) return done({ ok: false });
       setTimeout(poll, 20);
     })();`,
    [predicate, timeoutMs],
  );
  if (!outcome.ok) {
    const log = await browser
      .execute("return document.querySelector('#log')?.innerText ?? document.body?.innerText ?? ''")
      .catch((error) => `(cannot read the page: ${error.message})`);
    throw new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${what}; the page shows:\n${log}`);
  }
  return outcome.value;
}

async function find(browser, selector) {
  const found = await browser.command("POST", "/element", { using: "css selector", value: selector });
  return found[ELEMENT];
}

/** Types `text` (with `KEYS` for special keys) into the element `selector` matches. */
export async function type(browser, selector, text) {
  await browser.command("POST", `/element/${await find(browser, selector)}/value`, { text });
}

/** Clicks the element `selector` matches. */
export async function click(browser, selector) {
  await browser.command("POST", `/element/${await find(browser, selector)}/click`, {});
}

/** Waits for `condition()` (in this process) to hold. */
export async function until(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
