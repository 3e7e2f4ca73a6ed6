// An app as the package README's bundler quick start writes it, built by each bundler the README
// names (tests-js/bundler-test.mjs).
import init, { ServerEventsClient } from "servicestack-server-events";

const status = document.querySelector("#status");

async function main() {
  await init();
  const client = new ServerEventsClient(location.origin, ["bundled"], {
    handlers: {
      chat: (msg) => {
        document.querySelector("#last-chat").textContent = msg.message;
      },
    },
  });
  const info = await client.connect();
  document.body.dataset.userId = info.userId;
  status.textContent = "open";
}

main().catch((error) => {
  status.textContent = `error: ${error}`;
});
