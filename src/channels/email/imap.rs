//! The IMAP connection: TLS (rustls, the web's root certificates) for real servers, plain
//! TCP only where the settings say so (loopback tests). Login and mailbox selection; the
//! password is exposed only to the LOGIN command.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::settings::ImapSettings;

/// A TCP stream, wrapped in TLS unless the settings turn it off.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

pub type Session = async_imap::Session<Stream>;

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to the IMAP server: {0}")]
    Connect(#[from] std::io::Error),
    #[error("IMAP: {0}")]
    Protocol(#[from] async_imap::error::Error),
    #[error("IMAP login refused: {0}")]
    Login(String),
    #[error("invalid IMAP host name for TLS: {0}")]
    HostName(String),
    #[error("the mailbox has no UIDVALIDITY")]
    NoUidValidity,
}

fn tls_config() -> Arc<tokio_rustls::rustls::ClientConfig> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Arc::new(
        tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// Connects and logs in; returns the session and whether the server offers IDLE.
pub async fn connect(settings: &ImapSettings) -> Result<(Session, bool), ImapError> {
    let tcp = TcpStream::connect((settings.host.as_str(), settings.port)).await?;
    tcp.set_nodelay(true)?;
    let stream = if settings.tls {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(settings.host.clone())
            .map_err(|_| ImapError::HostName(settings.host.clone()))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await?;
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(tcp)
    };
    let mut client = async_imap::Client::new(stream);
    client.read_response().await?.ok_or_else(|| {
        ImapError::Login("the server closed the connection before greeting".into())
    })?;
    let mut session = client
        .login(&settings.user, settings.password.expose_secret())
        .await
        .map_err(|(e, _)| ImapError::Login(e.to_string()))?;
    let idle = session.capabilities().await?.has_str("IDLE");
    Ok((session, idle))
}
