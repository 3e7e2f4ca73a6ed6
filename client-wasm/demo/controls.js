// The remote controls other subscribers drive with selectors, as in ServiceStack's Chat app:
//   cmd.announce text       a notice over the page
//   cmd.toggle$#id          show or hide the element
//   css.property$#id value  style an element (the package does this itself)
//   document.title text     the page title
//   cmd.redirect URL        go to the URL (window.location)
//   tv.watch URL / tv.off   play a video from the URL in the page, or stop it
//   cmd.image URL           show the image in the chat
//   trigger.event data      a DOM event on document (the package raises it)
// URLs must be http(s): a remote `javascript:` URL would run code in this page.

const $ = (selector) => document.querySelector(selector);

/** An absolute http(s) URL from a remote message, or an Error for anything else. */
export function safeUrl(text) {
  let url;
  try {
    url = new URL(String(text ?? "").trim(), location.href);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`only http and https URLs are accepted, not ${url.protocol}`);
  }
  return url.href;
}

/** The `cmd.*` handlers and the receivers of the page; `show(kind, parts)` writes to the chat. */
export function remoteControls({ show }) {
  const handlers = {
    announce(text) {
      const box = $("#announce");
      box.textContent = String(text ?? "");
      box.hidden = false;
      clearTimeout(box.timer);
      box.timer = setTimeout(() => (box.hidden = true), 5000);
    },
    // cmd.toggle$#channels: `this` is the element the selector names (the body without one,
    // which is never hidden: that would leave a blank page nobody can bring back).
    toggle() {
      if (this === document.body) throw new Error("cmd.toggle needs a $selector, such as cmd.toggle$#channels");
      this.hidden = !this.hidden;
    },
    redirect(url) {
      window.location.href = safeUrl(url);
    },
    image(url) {
      const img = document.createElement("img");
      img.src = safeUrl(url);
      img.alt = url;
      img.className = "shared-image";
      show("image", [img]);
    },
  };
  const tv = {
    watch(url) {
      const video = document.createElement("video");
      video.src = safeUrl(url);
      video.controls = true;
      video.autoplay = true;
      video.muted = true;
      $("#tv-screen").replaceChildren(video);
      $("#tv").hidden = false;
      show("system", [`now playing ${video.src}`]);
    },
    off() {
      $("#tv-screen").replaceChildren();
      $("#tv").hidden = true;
    },
  };
  // Only the title: the whole `document` as a receiver would let anyone set any property of it
  // (cookies included).
  const page = {
    get title() {
      return document.title;
    },
    set title(value) {
      document.title = String(value ?? "");
    },
  };
  $("#tv-off").addEventListener("click", () => tv.off());
  return { handlers, receivers: { tv, document: page } };
}
