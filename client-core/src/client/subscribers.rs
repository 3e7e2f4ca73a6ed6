//! Calls about the live subscription: changing its channels and listing subscribers.

use super::{ServerEventsClient, channels_param, check_channel, validated_channels};
use crate::error::Error;
use crate::flat_json::{ObjectWriter, string_maps};
use crate::message::ServerEventUser;
use crate::transport::{Body, Method};

impl ServerEventsClient {
    /// Subscribes the live subscription to more channels, then adds them to the local list.
    pub async fn subscribe_to_channels<I, S>(&self, channels: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.update_subscriber(validated_channels(channels)?, Vec::new())
            .await
    }

    /// Unsubscribes the live subscription from channels, then removes them from the local list.
    pub async fn unsubscribe_from_channels<I, S>(&self, channels: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.update_subscriber(Vec::new(), validated_channels(channels)?)
            .await
    }

    /// Changes the live subscription's channels through the server's `updateSubscriberUrl`;
    /// the local list changes only after the server accepted.
    pub async fn update_subscriber(
        &self,
        subscribe: Vec<String>,
        unsubscribe: Vec<String>,
    ) -> Result<(), Error> {
        for channel in subscribe.iter().chain(&unsubscribe) {
            check_channel(channel)?;
        }
        let (id, url) = {
            let session = self.shared.session();
            let info = session.connection().ok_or(Error::NotConnected)?;
            let url = info.update_subscriber_url.clone().unwrap_or_else(|| {
                self.shared
                    .url_for(&format!("/event-subscribers/{}", info.id))
            });
            (info.id.clone(), url)
        };
        let mut body = ObjectWriter::default().string("id", &id);
        if !subscribe.is_empty() {
            body = body.strings("subscribeChannels", &subscribe);
        }
        if !unsubscribe.is_empty() {
            body = body.strings("unsubscribeChannels", &unsubscribe);
        }
        let body = body.finish();
        self.shared
            .transport
            .call(Method::Post, &url, Body::Json(body))
            .await?;
        let mut session = self.shared.session();
        session
            .channels
            .retain(|channel| !unsubscribe.contains(channel));
        for channel in subscribe {
            if !session.channels.contains(&channel) {
                session.channels.push(channel);
            }
        }
        Ok(())
    }

    /// The subscribers of this client's channels (all subscribers when it has none).
    pub async fn get_channel_subscribers(&self) -> Result<Vec<ServerEventUser>, Error> {
        let channels = self.channels();
        self.get_subscribers(&channels).await
    }

    /// The subscribers of `channels`, de-duplicated by the server (all subscribers when empty).
    pub async fn get_subscribers(
        &self,
        channels: &[String],
    ) -> Result<Vec<ServerEventUser>, Error> {
        let mut url = self.shared.url_for(&self.shared.config.subscribers_path);
        if !channels.is_empty() {
            url.push_str("?channels=");
            url.push_str(&channels_param(channels));
        }
        let text = self
            .shared
            .transport
            .call(Method::Get, &url, Body::Empty)
            .await?;
        let entries = string_maps(&text).map_err(|message| Error::Deserialize {
            type_name: "subscriber list".into(),
            message,
        })?;
        let mut users = Vec::with_capacity(entries.len());
        for entry in entries {
            users.push(ServerEventUser::from_map(entry));
        }
        Ok(users)
    }
}
