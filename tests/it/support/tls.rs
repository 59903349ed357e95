//! TLS in front of the machine's PostgreSQL, with certificates the test makes: a proxy on
//! 127.0.0.1 that answers PostgreSQL's `SSLRequest` with "yes", takes the TLS handshake with a
//! certificate of the test's choosing, and carries the decrypted connection on to the real
//! server (which then sees an ordinary connection). A client that does not ask for TLS is
//! turned away, so a relay that gets through it spoke TLS. [`Authority`] makes the CAs and the
//! server certificates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// PostgreSQL's `SSLRequest`: a length of 8 and the code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A certificate authority of the test's own.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server's certificate with its key.
pub struct ServerCert {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a key");
        Authority {
            issuer: CertifiedIssuer::self_signed(params, key).expect("a CA certificate"),
        }
    }

    /// Writes the CA's certificate as PEM to `path`; returns it.
    pub fn write_pem(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.issuer.pem()).expect("the CA file is written");
        path.to_owned()
    }

    /// A server certificate for `name` (a DNS name or an IP address), signed by this CA.
    pub fn server(&self, name: &str) -> ServerCert {
        let params = CertificateParams::new(vec![name.to_owned()]).expect("server parameters");
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        ServerCert {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

/// The proxy: its address and how many TLS handshakes it completed.
pub struct TlsProxy {
    addr: SocketAddr,
    handshakes: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl TlsProxy {
    /// A proxy to `server` that shows `cert`.
    pub async fn start(server: SocketAddr, cert: ServerCert) -> TlsProxy {
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert], PrivateKeyDer::Pkcs8(cert.key))
            .expect("the certificate and key go together");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("its address");
        let handshakes = Arc::new(AtomicU64::new(0));
        let counted = handshakes.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(carry(client, server, acceptor, counted));
            }
        });
        TlsProxy {
            addr,
            handshakes,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One connection: `SSLRequest`, "S", the handshake, then the bytes both ways.
async fn carry(
    mut client: TcpStream,
    server: SocketAddr,
    acceptor: TlsAcceptor,
    handshakes: Arc<AtomicU64>,
) {
    let mut request = [0u8; 8];
    if client.read_exact(&mut request).await.is_err() || request != SSL_REQUEST {
        // Not asking for TLS: refused, as a server with `hostssl` rules only would.
        return;
    }
    if client.write_all(b"S").await.is_err() {
        return;
    }
    let Ok(mut tls) = acceptor.accept(client).await else {
        return;
    };
    handshakes.fetch_add(1, Ordering::SeqCst);
    let Ok(mut upstream) = TcpStream::connect(server).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
}
