// Compiled with `tsc --noEmit --strict` against the installed package: the declarations are
// valid, cover the whole API, and reject what they should.

import init, {
  initSync,
  NewInstanceResolver,
  ServerEventsClient,
  SingletonInstanceResolver,
  type ConnectionStateInfo,
  type MessageStream,
  type ReconnectInfo,
  type ServerEventCommand,
  type ServerEventConnect,
  type ServerEventMessage,
  type ServerEventsClientOptions,
  type ServerEventsError,
  type ServerEventUser,
} from "servicestack-server-events";

class TvReceiver {
  watch(id: string): void {
    console.log(id);
  }
  set volume(level: number) {
    console.log(level);
  }
}

export async function typed(): Promise<void> {
  await init();
  void initSync;
  const options: ServerEventsClientOptions = {
    handlers: {
      onConnect: (info: ServerEventConnect) => {
        const interval: number = info.heartbeatIntervalMs;
        const id: string = info.id;
        void [interval, id];
      },
      onJoin: (join) => {
        const authenticated: boolean = join.isAuthenticated;
        const channels: string = join.channels;
        void [authenticated, channels];
      },
      onCommand: (command: ServerEventCommand) => void command.userId,
      onStop: () => {},
      chat: (body: { fromName: string; message: string }, request: ServerEventMessage) => {
        const selector: string | null = request.selector;
        void [body.message, selector];
      },
      toggle: function (this: HTMLElement) {
        this.hidden = !this.hidden;
      },
    },
    receivers: { document, tv: TvReceiver, plain: { announce: (text: string) => void text } },
    resolver: new SingletonInstanceResolver(),
    onException: (error: ServerEventsError) => console.log(error.kind, error.status, error.message),
    onReconnect: (info: ReconnectInfo) => console.log(info.previousSubscriptionId, info.error?.kind),
    onStateChange: (state: ConnectionStateInfo) => console.log(state.state, state.attempt),
    success: (selector: string | null, message: any, json: string) => console.log(selector, message, json.length),
    reconnect: { initialMs: 100, maxMs: 5000 },
    headers: { "X-Api-Key": "key" },
    bearerToken: "token",
    getCredentials: async (refresh: boolean) => ({ bearerToken: refresh ? "new" : "old" }),
    resolveStreamUrl: (url: string) => `${url}&t=1`,
    withCredentials: true,
    heartbeatIntervalMs: 1000,
  };
  const client = new ServerEventsClient("https://example.org", ["home"], options);
  const chained: ServerEventsClient = client
    .addListener("customEvent", (message: ServerEventMessage) => void message.body)
    .removeListener("customEvent", () => {})
    .registerHandler("announce", (text: string) => void text)
    .unregisterHandler("announce")
    .registerReceiver(TvReceiver)
    .registerNamedReceiver("document", document)
    .unregisterReceiver()
    .setResolver(new NewInstanceResolver());
  const started: ServerEventsClient = await chained.start();
  const info: ServerEventConnect = await started.connect();
  await client.subscribeToChannels("a", "b");
  await client.unsubscribeFromChannels(["a"]);
  await client.updateSubscriber({ subscribeChannels: ["c"], unsubscribeChannels: "b" });
  const users: ServerEventUser[] = await client.getChannelSubscribers();
  const userChannels: string[] = users[0].channels;
  for await (const message of client.messages()) {
    const target: string | null = message.target;
    void target;
    break;
  }
  const stream: MessageStream = client.messages();
  const next = await stream.next();
  if (!next.done) void next.value.selector;
  await stream.return();
  const current: string[] = client.channels;
  const state: "idle" | "connecting" | "open" | "reconnecting" | "paused" | "closed" = client.state;
  const url: string = client.eventStreamUri;
  const response: Record<string, unknown> = await client.authenticate("user", "pass");
  const reply: unknown = await client.post("PostChatToChannel", { message: "hi" });
  void [info.id, userChannels, current, state, url, response, reply, client.getEventSourceOptions().withCredentials];
  await client.stop();

  // @ts-expect-error: withCredentials is a boolean
  new ServerEventsClient("https://example.org", [], { withCredentials: "yes" });
  // @ts-expect-error: channels are strings
  new ServerEventsClient("https://example.org", [1]);
  // @ts-expect-error: there is no such option
  new ServerEventsClient("https://example.org", [], { onTick: () => {} });
  // @ts-expect-error: stop() returns a Promise, not the client
  const wrong: ServerEventsClient = await client.stop();
  void wrong;
}
