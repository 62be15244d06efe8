//! A scripted HTTP/1.1 server on loopback, plain or TLS: one request per connection, replies chosen by a
//! handler, with chunked bodies and stalls on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The request line's target and the headers of one request.
#[derive(Debug, Clone)]
pub struct Head {
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        chunked: bool,
    },
    /// Never answers (for timeouts).
    Stall,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::Respond {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            chunked: false,
        }
    }

    pub fn chunked(body: impl Into<Vec<u8>>) -> Self {
        Self::Respond {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            chunked: true,
        }
    }

    pub fn status(status: u16) -> Self {
        Self::Respond {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chunked: false,
        }
    }

    pub fn redirect(location: &str) -> Self {
        Self::status(302).with_header("Location", location)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }
}

pub type Handler = Arc<dyn Fn(&Head) -> Reply + Send + Sync>;

pub struct TestServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Head>>>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every request head seen so far.
    pub fn requests(&self) -> Vec<Head> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves on `bind` (e.g. `127.0.0.1:0`), over TLS when `tls` is given.
pub async fn start(
    bind: &str,
    tls: Option<Arc<ServerConfig>>,
    handler: impl Fn(&Head) -> Reply + Send + Sync + 'static,
) -> std::io::Result<TestServer> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let handler: Handler = Arc::new(handler);
    let acceptor = tls.map(TlsAcceptor::from);
    let task = {
        let accepted = Arc::clone(&accepted);
        let requests = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let handler = Arc::clone(&handler);
                let requests = Arc::clone(&requests);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, handler, requests).await;
                            }
                        }
                        None => serve(stream, handler, requests).await,
                    }
                });
            }
        })
    };
    Ok(TestServer {
        addr,
        accepted,
        requests,
        task,
    })
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Handler,
    requests: Arc<Mutex<Vec<Head>>>,
) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    requests.lock().unwrap().push(head.clone());
    match handler(&head) {
        Reply::Stall => tokio::time::sleep(Duration::from_secs(60)).await,
        Reply::Respond {
            status,
            headers,
            body,
            chunked,
        } => {
            let mut out = format!("HTTP/1.1 {status} Status\r\nConnection: close\r\n");
            for (name, value) in &headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            let has_length = headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
            if chunked {
                out.push_str("Transfer-Encoding: chunked\r\n\r\n");
            } else if !has_length {
                out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            } else {
                out.push_str("\r\n");
            }
            if stream.write_all(out.as_bytes()).await.is_err() {
                return;
            }
            if chunked {
                for piece in body.chunks(1024) {
                    let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
                    frame.extend_from_slice(piece);
                    frame.extend_from_slice(b"\r\n");
                    if stream.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            } else {
                let _ = stream.write_all(&body).await;
            }
            let _ = stream.shutdown().await;
        }
    }
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Head> {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        if buffer.len() > 64 * 1024 || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buffer.push(byte[0]);
    }
    let text = String::from_utf8(buffer).ok()?;
    let mut lines = text.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Some(Head { target, headers })
}
