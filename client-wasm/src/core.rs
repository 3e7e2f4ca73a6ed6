//! `Core`, the one class the module exports: the Rust client behind primitive values, for the
//! package's JavaScript (`npm/client.js`) to build `ServerEventsClient` on.
//!
//! Every message and lifecycle event goes to one JavaScript callback, `emit(kind, value)`, while
//! the core dispatches it (`waitForNext*` and `messages()` are the JavaScript side's too): `"connect"`, `"message"`, `"command"` and `"heartbeat"` with the
//! arrays of `crate::fields`, `"reconnect"`, `"state"`, and `"error"` with a JavaScript `Error`.

use std::time::Duration;

use futures_util::StreamExt;
use js_sys::{Array, Function, Promise};
use servicestack_events::{
    ClientOptions, Credentials, Error, ReconnectPolicy, ServerEventsClient as CoreClient,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::{error, fields, js};

/// The Rust client, for the package's JavaScript.
#[wasm_bindgen(skip_typescript)]
pub struct Core {
    client: CoreClient,
}

/// A whole number of milliseconds from JavaScript (checked there) as a duration.
fn millis(ms: f64) -> Duration {
    Duration::from_millis(ms as u64)
}

/// Runs `future` (a core call) as a Promise of what `convert` makes of its result.
fn promise<T: 'static>(
    future: impl std::future::Future<Output = Result<T, Error>> + 'static,
    convert: impl FnOnce(T) -> JsValue + 'static,
) -> Promise {
    js::promise(async move { future.await.map(convert).map_err(|e| error::to_js(&e)) })
}

fn users(list: Vec<servicestack_events::ServerEventUser>) -> JsValue {
    list.iter().map(fields::user).collect::<Array>().into()
}

/// Reads `[bearerToken, header pairs, query pairs]`, what the JavaScript wrapper of
/// `getCredentials` resolves to (it rejects with the reason as a string).
async fn credentials_from(provider: &Function, refresh: bool) -> Result<Credentials, String> {
    let returned = provider
        .call1(&JsValue::UNDEFINED, &refresh.into())
        .and_then(|value| value.dyn_into::<Promise>());
    let value = match returned {
        Ok(promise) => JsFuture::from(promise).await,
        Err(thrown) => Err(thrown),
    }
    .map_err(|thrown| thrown.as_string().unwrap_or_default())?;
    let parts = Array::from(&value);
    let mut credentials = Credentials::default();
    if let Some(token) = parts.get(0).as_string() {
        credentials.bearer_token = Some(token.into());
    }
    let strings = |index| -> Vec<String> {
        Array::from(&parts.get(index))
            .iter()
            .filter_map(|v| v.as_string())
            .collect()
    };
    for pair in strings(1).chunks_exact(2) {
        credentials = credentials.with_header(pair[0].clone(), pair[1].clone());
    }
    for pair in strings(2).chunks_exact(2) {
        credentials = credentials.with_query(pair[0].clone(), pair[1].clone());
    }
    Ok(credentials)
}

#[wasm_bindgen]
impl Core {
    /// A client for the absolute `base_url`, with options already checked by the JavaScript
    /// side (`undefined` keeps the core's default). `headers` is `[name, value, ...]`;
    /// `reconnect` is `"never"`/`"servicestack"`, else `reconnect_ms` is `[delayMs, initialMs,
    /// maxMs]` (-1 where left out).
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base_url: String,
        channels: Vec<String>,
        emit: Function,
        heartbeat_ms: Option<f64>,
        idle_ms: Option<f64>,
        connect_ms: Option<f64>,
        request_ms: Option<f64>,
        max_event_size: Option<f64>,
        allowed_origins: Vec<String>,
        event_stream_path: Option<String>,
        subscribers_path: Option<String>,
        bearer_token: Option<String>,
        headers: Vec<String>,
        reconnect: Option<String>,
        reconnect_ms: Vec<f64>,
        with_credentials: bool,
        get_credentials: Option<Function>,
        resolve_stream_url: Option<Function>,
    ) -> Result<Core, JsValue> {
        let mut options = ClientOptions {
            channels,
            heartbeat_interval: heartbeat_ms.map(millis),
            idle_timeout: idle_ms.map(millis),
            allowed_origins,
            bearer_token: bearer_token.map(Into::into),
            with_credentials,
            ..ClientOptions::default()
        };
        if let Some(ms) = connect_ms {
            options.connect_timeout = millis(ms);
        }
        if let Some(ms) = request_ms {
            options.request_timeout = millis(ms);
        }
        if let Some(size) = max_event_size {
            options.max_event_size = size as usize;
        }
        if let Some(path) = event_stream_path {
            options.event_stream_path = path;
        }
        if let Some(path) = subscribers_path {
            options.subscribers_path = path;
        }
        for pair in headers.chunks_exact(2) {
            options
                .headers
                .insert(pair[0].clone(), pair[1].clone().into());
        }
        let whole = |index: usize| {
            reconnect_ms
                .get(index)
                .filter(|ms| **ms >= 0.0)
                .map(|ms| *ms as u64)
        };
        let policy = match &reconnect {
            Some(name) => ReconnectPolicy::from_name(name),
            None => ReconnectPolicy::from_millis(whole(0), whole(1), whole(2)),
        };
        if let Some(policy) = policy {
            options.reconnect = policy;
        }
        let event = |kind: &'static str| {
            let emit = emit.clone();
            move |value: JsValue| {
                js::call2(&emit, &kind.into(), &value);
            }
        };
        let mut builder = CoreClient::builder(base_url)
            .options(options)
            .on_connect({
                let emit = event("connect");
                move |info| emit(fields::connect(info).into())
            })
            .on_message({
                let emit = event("message");
                move |message| emit(fields::message(message).into())
            })
            .on_command({
                let emit = event("command");
                move |command| emit(fields::command(command).into())
            })
            .on_heartbeat({
                let emit = event("heartbeat");
                move |command| emit(fields::command(command).into())
            })
            .on_reconnect({
                let emit = event("reconnect");
                move |info| emit(fields::reconnect(info).into())
            })
            .on_exception({
                let emit = event("error");
                move |error| emit(error::to_js(error))
            });
        if let Some(rewrite) = resolve_stream_url {
            builder = builder.resolve_stream_url(move |url| {
                rewrite
                    .call1(&JsValue::UNDEFINED, &url.into())
                    .ok()
                    .and_then(|value| value.as_string())
                    .unwrap_or_else(|| url.to_owned())
            });
        }
        if let Some(provider) = get_credentials {
            builder = builder.credentials_fn(move |refresh| {
                let provider = provider.clone();
                async move { credentials_from(&provider, refresh).await }
            });
        }
        let client = builder.build().map_err(|e| error::to_js(&e))?;
        let mut states = client.state_changes();
        let emit = event("state");
        wasm_bindgen_futures::spawn_local(async move {
            // The first item is the state at construction (idle).
            let _ = states.next().await;
            while let Some(state) = states.next().await {
                emit(fields::state(&state).into());
            }
        });
        Ok(Core { client })
    }

    /// Starts connecting in the background.
    pub fn start(&self) -> Result<(), JsValue> {
        self.client.start().map_err(|e| error::to_js(&e))
    }

    /// Connects; resolves with the connect fields.
    pub fn connect(&self) -> Promise {
        let client = self.client.clone();
        promise(async move { client.connect().await }, |info| {
            fields::connect(&info).into()
        })
    }

    /// Stops and unregisters; resolves once unregistered.
    pub fn stop(&self) -> Promise {
        let stopped = self.client.stop();
        js::promise(async move {
            stopped.await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Reconnects at once.
    pub fn restart(&self) -> Result<(), JsValue> {
        self.client.restart().map_err(|e| error::to_js(&e))
    }

    /// Disconnects until `resume()`.
    pub fn pause(&self) {
        self.client.pause();
    }

    /// Reconnects a paused client.
    pub fn resume(&self) -> Result<(), JsValue> {
        self.client.resume().map_err(|e| error::to_js(&e))
    }

    /// Subscribes the live subscription to `channels`.
    pub fn subscribe(&self, channels: Vec<String>) -> Promise {
        let client = self.client.clone();
        promise(
            async move { client.subscribe_to_channels(channels).await },
            |()| JsValue::UNDEFINED,
        )
    }

    /// Unsubscribes the live subscription from `channels`.
    pub fn unsubscribe(&self, channels: Vec<String>) -> Promise {
        let client = self.client.clone();
        promise(
            async move { client.unsubscribe_from_channels(channels).await },
            |()| JsValue::UNDEFINED,
        )
    }

    /// Changes the live subscription's channels.
    pub fn update(&self, subscribe: Vec<String>, unsubscribe: Vec<String>) -> Promise {
        let client = self.client.clone();
        promise(
            async move { client.update_subscriber(subscribe, unsubscribe).await },
            |()| JsValue::UNDEFINED,
        )
    }

    /// Replaces the channel list for the next connect.
    #[wasm_bindgen(js_name = setChannels)]
    pub fn set_channels(&self, channels: Vec<String>) -> Result<(), JsValue> {
        self.client
            .set_channels(channels)
            .map_err(|e| error::to_js(&e))
    }

    /// The subscribers of this client's channels, as user fields.
    #[wasm_bindgen(js_name = channelSubscribers)]
    pub fn channel_subscribers(&self) -> Promise {
        let client = self.client.clone();
        promise(async move { client.get_channel_subscribers().await }, users)
    }

    /// The subscribers of `channels` (every subscriber when empty), as user fields.
    pub fn subscribers(&self, channels: Vec<String>) -> Promise {
        let client = self.client.clone();
        promise(
            async move { client.get_subscribers(&channels).await },
            users,
        )
    }

    /// `POST /auth/credentials`; resolves with the parsed response.
    pub fn authenticate(&self, user_name: String, password: String) -> Promise {
        let client = self.client.clone();
        promise(
            async move {
                let service = client.service_client();
                js::parse_response(&service.authenticate_text(&user_name, password).await?)
            },
            |value| value,
        )
    }

    /// POSTs the JSON text `body` to `path`; resolves with the parsed response.
    pub fn post(&self, path: String, body: String) -> Promise {
        let client = self.client.clone();
        promise(
            async move {
                let service = client.service_client();
                js::parse_response(&service.post_json_text(&path, body).await?)
            },
            |value| value,
        )
    }

    /// GETs `path`; resolves with the parsed response.
    pub fn get(&self, path: String) -> Promise {
        let client = self.client.clone();
        promise(
            async move {
                let service = client.service_client();
                js::parse_response(&service.get_text(&path).await?)
            },
            |value| value,
        )
    }

    /// The connect fields of the live subscription, or `undefined`.
    pub fn info(&self) -> Option<Array> {
        self.client
            .connection_info()
            .map(|info| fields::connect(&info))
    }

    /// The `NotConnectedError`.
    #[wasm_bindgen(js_name = notConnected)]
    pub fn not_connected() -> JsValue {
        error::to_js(&Error::NotConnected)
    }

    /// The channels the client subscribes to.
    pub fn channels(&self) -> Vec<String> {
        self.client.channels()
    }

    /// The URL the next connect opens.
    #[wasm_bindgen(js_name = streamUrl)]
    pub fn stream_url(&self) -> String {
        self.client.event_stream_url()
    }

    /// The base URL (absolute, without a trailing slash).
    #[wasm_bindgen(js_name = baseUrl)]
    pub fn base_url(&self) -> String {
        self.client.base_url().to_owned()
    }

    /// The state's name.
    pub fn state(&self) -> String {
        fields::state_name(&self.client.state()).to_owned()
    }

    /// How many times the client has opened (or tried to open) the stream.
    #[wasm_bindgen(js_name = timesStarted)]
    pub fn times_started(&self) -> f64 {
        self.client.times_started() as f64
    }
}
