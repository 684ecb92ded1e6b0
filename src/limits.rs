//! What anonymous clients may do: how many conversations they start and messages they send
//! per minute, how many live streams they hold open, how many of their conversations wait
//! for a person at once. Every limit is counted per client address — the connection's
//! peer, or, when the peer is a trusted reverse proxy, the address the proxy reports — and
//! IPv6 addresses count per /64, the block one household or one attacker gets.
//!
//! The counts live in this process: one instance enforces them exactly. The server puts
//! the [`Limits`] in every request's extensions, so the API and the console's login agree
//! on who the client is.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::store::ConversationId;

/// The limits on anonymous traffic; `0` switches a limit off.
///
/// The defaults are sized for a city's widget: a citizen starts a handful of conversations
/// an hour and types a message every few seconds at most, while a school or a library
/// behind one address still has room for a class at once.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Conversations a client address may start per minute (with as many at once).
    pub conversations_per_minute: u32,
    /// Messages (and stateless answers) a client address may send per minute, as many at once.
    pub messages_per_minute: u32,
    /// Live streams open on one conversation at once (a few tabs of one citizen).
    pub streams_per_conversation: u32,
    /// Live streams one client address holds open at once.
    pub streams_per_client: u32,
    /// Live streams open in this process at once; also bounded by the open-files limit.
    pub streams_total: u32,
    /// Conversations of one client address waiting for a person at once.
    pub waiting_per_client: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or networks).
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            conversations_per_minute: 20,
            messages_per_minute: 60,
            streams_per_conversation: 4,
            streams_per_client: 40,
            streams_total: 10_000,
            waiting_per_client: 5,
            trusted_proxies: loopback(),
        }
    }
}

/// A proxy on the same machine is trusted unless the operator says otherwise: it is the
/// usual set-up, and without it every citizen would share the proxy's address.
pub fn loopback() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .map(|n| n.parse().expect("valid network"))
        .collect()
}

/// A limit was reached: what to tell the client and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Conversations,
    Messages,
    StreamsPerConversation,
    StreamsPerClient,
    StreamsTotal,
    Waiting,
}

impl Limit {
    /// The stable code programs see.
    pub fn code(self) -> &'static str {
        match self {
            Limit::Conversations => "too_many_conversations",
            Limit::Messages => "too_many_messages",
            Limit::StreamsPerConversation | Limit::StreamsPerClient | Limit::StreamsTotal => {
                "too_many_streams"
            }
            Limit::Waiting => "too_many_waiting",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Limit::Conversations => "too many conversations started from this address",
            Limit::Messages => "too many messages from this address",
            Limit::StreamsPerConversation => "too many live streams open on this conversation",
            Limit::StreamsPerClient => "too many live streams open from this address",
            Limit::StreamsTotal => "the server holds as many live streams as it can",
            Limit::Waiting => {
                "this address already has as many conversations waiting for a person as allowed"
            }
        }
    }
}

/// The address a request is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ClientAddress {
    /// The client behind `peer`: the rightmost address in `X-Forwarded-For` that is not a
    /// trusted proxy, when `peer` is one; `peer` itself otherwise. IPv6 counts per /64.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddress {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
        let mut client = peer;
        if is_trusted(&peer) {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect::<Vec<_>>();
            for hop in forwarded.iter().rev() {
                match hop.parse::<IpAddr>() {
                    Ok(ip) => {
                        client = ip;
                        if !is_trusted(&ip) {
                            break;
                        }
                    }
                    // Garbage in the chain: nothing left of it can be believed.
                    Err(_) => break,
                }
            }
        }
        ClientAddress(block(client.to_canonical()))
    }
}

fn block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The counts behind the limits; shared by every edge of one process.
pub struct Limits {
    settings: LimitSettings,
    conversations: Option<DefaultKeyedRateLimiter<ClientAddress>>,
    messages: Option<DefaultKeyedRateLimiter<ClientAddress>>,
    streams: Arc<Mutex<Streams>>,
    waiting: Mutex<HashMap<ClientAddress, HashSet<ConversationId>>>,
}

#[derive(Default)]
struct Streams {
    total: u32,
    by_conversation: HashMap<ConversationId, u32>,
    by_client: HashMap<ClientAddress, u32>,
}

fn per_minute(n: u32) -> Option<DefaultKeyedRateLimiter<ClientAddress>> {
    NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl Limits {
    pub fn new(mut settings: LimitSettings) -> Limits {
        settings.streams_total = settings.streams_total.min(stream_capacity());
        Limits {
            conversations: per_minute(settings.conversations_per_minute),
            messages: per_minute(settings.messages_per_minute),
            settings,
            streams: Arc::default(),
            waiting: Mutex::default(),
        }
    }

    /// Counts a conversation started by `client`.
    pub fn start_conversation(&self, client: ClientAddress) -> Result<(), Refused> {
        check(self.conversations.as_ref(), client, Limit::Conversations)
    }

    /// Counts a message (or a stateless question) sent by `client`.
    pub fn send_message(&self, client: ClientAddress) -> Result<(), Refused> {
        check(self.messages.as_ref(), client, Limit::Messages)
    }

    /// Opens a live stream; it counts until the returned guard is dropped.
    pub fn open_stream(
        &self,
        client: ClientAddress,
        conversation: ConversationId,
    ) -> Result<StreamGuard, Refused> {
        let s = &self.settings;
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let refuse = |limit| {
            Err(Refused {
                limit,
                retry_after: Duration::from_secs(30),
            })
        };
        if s.streams_total > 0 && streams.total >= s.streams_total {
            return refuse(Limit::StreamsTotal);
        }
        if s.streams_per_client > 0
            && streams.by_client.get(&client).copied().unwrap_or(0) >= s.streams_per_client
        {
            return refuse(Limit::StreamsPerClient);
        }
        if s.streams_per_conversation > 0
            && streams
                .by_conversation
                .get(&conversation)
                .copied()
                .unwrap_or(0)
                >= s.streams_per_conversation
        {
            return refuse(Limit::StreamsPerConversation);
        }
        streams.total += 1;
        *streams.by_client.entry(client).or_default() += 1;
        *streams.by_conversation.entry(conversation).or_default() += 1;
        Ok(StreamGuard {
            streams: self.streams.clone(),
            client,
            conversation,
        })
    }

    /// Live streams open now.
    pub fn open_streams(&self) -> u32 {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Whether `client` may put one more conversation in the staff queue. `still_waiting`
    /// tells which of the client's earlier ones still wait; those that do not are forgotten.
    pub async fn may_wait<F, Fut>(
        &self,
        client: ClientAddress,
        conversation: ConversationId,
        still_waiting: F,
    ) -> Result<(), Refused>
    where
        F: Fn(ConversationId) -> Fut,
        Fut: Future<Output = bool>,
    {
        let max = self.settings.waiting_per_client as usize;
        if max == 0 {
            return Ok(());
        }
        let known: Vec<ConversationId> = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client)
            .map(|s| s.iter().copied().filter(|c| *c != conversation).collect())
            .unwrap_or_default();
        if known.len() < max {
            return Ok(());
        }
        let mut gone = Vec::new();
        for id in &known {
            if !still_waiting(*id).await {
                gone.push(*id);
            }
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = waiting.get_mut(&client) {
            for id in &gone {
                set.remove(id);
            }
        }
        if known.len() - gone.len() >= max {
            Err(Refused {
                limit: Limit::Waiting,
                retry_after: Duration::from_secs(60),
            })
        } else {
            Ok(())
        }
    }

    /// Notes that a conversation of `client` waits for a person now.
    pub fn waits(&self, client: ClientAddress, conversation: ConversationId) {
        if self.settings.waiting_per_client == 0 {
            return;
        }
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(client)
            .or_default()
            .insert(conversation);
    }

    /// Forgets clients not seen for a while, so the counts stay as small as the traffic.
    pub fn forget_idle(&self) {
        for limiter in [&self.conversations, &self.messages].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|_, s| !s.is_empty());
        waiting.shrink_to_fit();
    }
}

fn check(
    limiter: Option<&DefaultKeyedRateLimiter<ClientAddress>>,
    client: ClientAddress,
    limit: Limit,
) -> Result<(), Refused> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(&client).map_err(|not_until| Refused {
        limit,
        retry_after: not_until
            .wait_time_from(DefaultClock::default().now())
            .max(Duration::from_secs(1)),
    })
}

/// How many streams the process can hold: the open-files limit (raised to its maximum at
/// start), less a reserve for the database, the channels and ordinary requests.
fn stream_capacity() -> u32 {
    const RESERVE: u64 = 512;
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) => soft.saturating_sub(RESERVE).clamp(16, u32::MAX as u64) as u32,
        Err(_) => u32::MAX,
    }
}

/// Raises the open-files limit to what the system allows: every live stream is a socket.
pub fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(open_files = n, "open-files limit"),
        Err(e) => tracing::warn!(error = %e, "the open-files limit could not be raised"),
    }
}

/// Holds one live stream's place in the counts.
pub struct StreamGuard {
    streams: Arc<Mutex<Streams>>,
    client: ClientAddress,
    conversation: ConversationId,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut s = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        s.total = s.total.saturating_sub(1);
        decrement(&mut s.by_client, &self.client);
        decrement(&mut s.by_conversation, &self.conversation);
    }
}

fn decrement<K: Eq + std::hash::Hash>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The client address of a request, from the [`Limits`] in its extensions (the server adds
/// them to every request) and the connection's peer.
impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let trusted = parts
            .extensions
            .get::<Arc<Limits>>()
            .map(|l| l.settings.trusted_proxies.as_slice())
            .unwrap_or(&[]);
        Ok(ClientAddress::resolve(peer, &parts.headers, trusted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", forwarded.parse().unwrap());
        h
    }

    #[test]
    fn the_client_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        let h = headers("203.0.113.9, 10.0.0.3");
        assert_eq!(
            ClientAddress::resolve(proxy, &h, &trusted).0,
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "the rightmost untrusted hop"
        );
        assert_eq!(
            ClientAddress::resolve(stranger, &h, &trusted).0,
            stranger,
            "a client cannot name itself someone else"
        );
        assert_eq!(
            ClientAddress::resolve(proxy, &headers("1.2.3.4, garbage"), &trusted).0,
            proxy,
            "a broken chain is not believed"
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_block() {
        let a = ClientAddress::resolve("2001:db8:1:2::1".parse().unwrap(), &HeaderMap::new(), &[]);
        let b = ClientAddress::resolve(
            "2001:db8:1:2:ffff::9".parse().unwrap(),
            &HeaderMap::new(),
            &[],
        );
        assert_eq!(a, b);
        let mapped =
            ClientAddress::resolve("::ffff:192.0.2.1".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(mapped.0, "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn streams_count_until_their_guard_is_dropped() {
        let limits = Limits::new(LimitSettings {
            streams_per_conversation: 2,
            streams_per_client: 3,
            ..Default::default()
        });
        let client = ClientAddress("192.0.2.1".parse().unwrap());
        let (c1, c2) = (ConversationId::new(), ConversationId::new());
        let a = limits.open_stream(client, c1).unwrap();
        let _b = limits.open_stream(client, c1).unwrap();
        assert_eq!(
            limits.open_stream(client, c1).err().map(|r| r.limit),
            Some(Limit::StreamsPerConversation)
        );
        let _c = limits.open_stream(client, c2).unwrap();
        assert_eq!(
            limits.open_stream(client, c2).err().map(|r| r.limit),
            Some(Limit::StreamsPerClient)
        );
        drop(a);
        assert!(limits.open_stream(client, c1).is_ok());
        assert_eq!(
            limits.open_streams(),
            2,
            "a dropped guard gives its place back"
        );
    }

    #[test]
    fn rates_refuse_with_the_time_to_wait_and_zero_switches_off() {
        let limits = Limits::new(LimitSettings {
            conversations_per_minute: 2,
            messages_per_minute: 0,
            ..Default::default()
        });
        let client = ClientAddress("192.0.2.1".parse().unwrap());
        let other = ClientAddress("192.0.2.2".parse().unwrap());
        assert!(limits.start_conversation(client).is_ok());
        assert!(limits.start_conversation(client).is_ok());
        let refused = limits.start_conversation(client).unwrap_err();
        assert_eq!(refused.limit, Limit::Conversations);
        assert!(refused.retry_after >= Duration::from_secs(1));
        assert!(refused.retry_after <= Duration::from_secs(30));
        assert!(limits.start_conversation(other).is_ok(), "per client");
        for _ in 0..1000 {
            assert!(limits.send_message(client).is_ok());
        }
    }

    #[tokio::test]
    async fn waiting_conversations_are_counted_until_they_leave_the_queue() {
        let limits = Limits::new(LimitSettings {
            waiting_per_client: 2,
            ..Default::default()
        });
        let client = ClientAddress("192.0.2.1".parse().unwrap());
        let (a, b, c) = (
            ConversationId::new(),
            ConversationId::new(),
            ConversationId::new(),
        );
        limits.waits(client, a);
        limits.waits(client, b);
        let all_wait = |_| async { true };
        assert_eq!(
            limits
                .may_wait(client, c, all_wait)
                .await
                .err()
                .map(|r| r.limit),
            Some(Limit::Waiting)
        );
        assert!(
            limits.may_wait(client, a, all_wait).await.is_ok(),
            "one already waiting may go on"
        );
        let a_claimed = move |id| async move { id != a };
        assert!(limits.may_wait(client, c, a_claimed).await.is_ok());
    }
}
