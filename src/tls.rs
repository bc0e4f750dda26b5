//! TLS for every TCP service and client (recipe 10): rustls configs from PEM files, and
//! `netkit tls gen-cert`, a local CA with server and client certificates that Python
//! 3.13's `VERIFY_X509_STRICT` accepts.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// What went wrong while setting up TLS; each names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {source}")]
    ReadCerts {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCerts { path: PathBuf },
    #[error("cannot read a private key from {path}: {source}")]
    ReadKey {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("certificate {path} rejected: {source}")]
    BadCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("certificate {cert} and key {key} do not make a usable TLS identity: {source}")]
    Identity {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS settings: {0}")]
    Rustls(rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_err = |source| TlsError::ReadCerts {
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::ReadKey {
        path: path.to_path_buf(),
        source,
    })
}

fn root_store(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|source| TlsError::BadCa {
            path: ca.to_path_buf(),
            source,
        })?;
    }
    Ok(roots)
}

/// Files that make a server's TLS identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// A server config (TLS 1.2 and 1.3, rustls' safe defaults) offering `alpn` protocols.
pub fn server_config(
    files: &ServerTlsFiles,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let builder = ServerConfig::builder();
    let builder = match &files.client_ca {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder(Arc::new(root_store(ca)?)).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::Identity {
            cert: files.cert.clone(),
            key: files.key.clone(),
            source,
        })?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The server side of a TLS handshake, the one every TCP service and `netkit bulk recv`
/// run: bounded by `timeout`, so a peer that stalls mid-handshake costs nothing for long.
pub async fn accept(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
    timeout: Duration,
) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(socket)).await {
        Ok(handshake) => handshake,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

/// Files a client may use: the CA to trust (the system's roots when absent) and a
/// certificate of its own for servers that ask for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

pub fn client_config(files: &ClientTlsFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match &files.ca {
        Some(ca) => root_store(ca)?,
        None => {
            let mut roots = RootCertStore::empty();
            // Unreadable system certificates only shrink the trust store; the handshake
            // then fails with an error that names the unknown issuer.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots
        }
    };
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|source| TlsError::Identity {
                cert: cert.clone(),
                key: key.clone(),
                source,
            })?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name to check the server's certificate against: the host part of `host:port`.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, TlsError> {
    let host = match addr.rsplit_once(':') {
        Some((host, _port)) => host,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}

/// Paths `gen_cert` wrote.
#[derive(Debug, Clone)]
pub struct GeneratedCerts {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Writes a local CA (`ca.pem`) and server and client certificates signed by it into
/// `dir`, the server one valid for every name in `names` (DNS names or IP addresses).
///
/// Made for strict verifiers: the CA has a critical basicConstraints CA:TRUE and keyUsage
/// keyCertSign; every certificate has subject and authority key identifiers, as Python
/// 3.13's `VERIFY_X509_STRICT` and `openssl verify -x509_strict` demand.
pub fn gen_cert(dir: &Path, names: &[String]) -> Result<GeneratedCerts, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    let today = jiff::Zoned::now().date();
    let ymd = |years_ahead: i16| {
        let d = today
            .checked_add(jiff::Span::new().years(years_ahead))
            .unwrap_or(today);
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    let yesterday = today.yesterday().unwrap_or(today);
    let not_before = rcgen::date_time_ymd(
        i32::from(yesterday.year()),
        yesterday.month() as u8,
        yesterday.day() as u8,
    );

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "netkit local CA");
    ca_params.not_before = not_before;
    ca_params.not_after = ymd(10);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.not_before = not_before;
        params.not_after = ymd(2);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok::<_, rcgen::Error>((cert, key))
    };
    let first_name = names.first().map(String::as_str).unwrap_or("localhost");
    let (server_cert, server_key) = leaf(
        names.to_vec(),
        first_name,
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (client_cert, client_key) = leaf(
        Vec::new(),
        "netkit client",
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;

    let write = |name: &str, contents: String| {
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|source| TlsError::Write {
            path: path.clone(),
            source,
        })?;
        Ok::<_, TlsError>(path)
    };
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let generated = GeneratedCerts {
        ca: write("ca.pem", ca_cert.pem())?,
        server_cert: write("server.pem", server_cert.pem())?,
        server_key: write("server.key", server_key.serialize_pem())?,
        client_cert: write("client.pem", client_cert.pem())?,
        client_key: write("client.key", client_key.serialize_pem())?,
    };
    restrict_to_owner(&generated.server_key)?;
    restrict_to_owner(&generated.client_key)?;
    Ok(generated)
}

fn restrict_to_owner(path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        TlsError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The names `gen-cert` puts in the server certificate by default.
pub fn default_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
}
