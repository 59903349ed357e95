//! TLS to the database, as libpq's `sslmode` and `sslrootcert` say, over rustls.
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked; with `sslrootcert`, its chain is (as `verify-ca`) |
//! | `verify-ca` | always | signed by a CA of `sslrootcert` |
//! | `verify-full` | always | signed by a CA of `sslrootcert`, and made out to the host |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the machine's own. The
//! PostgreSQL driver knows neither `verify-*` nor `sslrootcert`: [`split`] takes them out of
//! the connection text (in either of libpq's forms) before the driver reads the rest, and
//! [`Tls::connector`] makes the rustls configuration that checks what they ask.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing: the connection is encrypted against a passive listener only.
    Nothing,
    /// The chain, up to a CA of `sslrootcert`.
    Chain,
    /// The chain and the host name.
    Full,
}

/// What the connection text asked of TLS, beyond what the driver reads itself.
#[derive(Clone, Debug)]
pub struct Tls {
    check: Check,
    /// The CAs the chain must end at (`None` when nothing is checked).
    roots: Option<Arc<RootCertStore>>,
}

impl Tls {
    /// The driver's TLS connector for these settings.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let cannot = |e: rustls::Error| format!("cannot set up TLS to the database: {e}");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(cannot)?;
        let chain = match (&self.roots, self.check) {
            (Some(roots), Check::Full | Check::Chain) => Some(web_pki(roots, &provider)?),
            _ => None,
        };
        let verifier = Arc::new(Verifier {
            chain,
            check: self.check,
            provider,
        });
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

fn web_pki(
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| format!("`sslrootcert`: {e}"))
}

/// Takes libpq's TLS settings the driver does not know out of a connection text (a
/// `postgres://` URL or `key=value` pairs): `sslrootcert`, and `sslmode=verify-ca|verify-full`,
/// which become `sslmode=require` for the driver. Returns the text for the driver and what TLS
/// must check. The error names the setting, never the text.
pub fn split(text: &str) -> Result<(String, Tls), String> {
    let url = ["postgres://", "postgresql://"].iter().find(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    let (mut rest, Settings { mode, rootcert }) = match url {
        // The driver knows the scheme in lower case only, and would take any other spelling
        // for `key=value` text, repeating it (password and all) in its error.
        Some(scheme) => split_url(&format!("{scheme}{}", &text[scheme.len()..]))?,
        None => split_pairs(text)?,
    };
    let system = rootcert.as_deref() == Some("system");
    let check = match (mode.as_deref(), &rootcert) {
        // As libpq: the machine's CAs sign certificates for anyone, so only the name makes
        // one the server's; they mean verify-full, and a weaker mode is refused.
        (None, _) if system => {
            rest = with_tls_required(rest, url.is_some());
            Check::Full
        }
        (Some("verify-full"), _) => Check::Full,
        (Some(mode), _) if system => {
            return Err(format!(
                "`sslrootcert=system` needs `sslmode=verify-full` (or no sslmode), not `{mode}`: \
                 the machine's CAs sign certificates for any host, so only the host name makes \
                 one the database's"
            ));
        }
        (Some("verify-ca"), _) => Check::Chain,
        (Some("require"), Some(_)) => Check::Chain,
        _ => Check::Nothing,
    };
    let roots = match (&rootcert, check) {
        (_, Check::Nothing) => None,
        (Some(source), _) => Some(Arc::new(roots(source)?)),
        (None, _) => {
            return Err(format!(
                "`sslmode={}` needs `sslrootcert`: the file of the CA certificates that sign \
                 the server's certificate, or `sslrootcert=system` for the machine's own",
                mode.as_deref().unwrap_or_default()
            ));
        }
    };
    Ok((rest, Tls { check, roots }))
}

/// The driver's text with `sslmode=require` added (it named no sslmode).
fn with_tls_required(rest: String, url: bool) -> String {
    match (url, rest.contains('?')) {
        (true, true) => format!("{rest}&sslmode=require"),
        (true, false) => format!("{rest}?sslmode=require"),
        (false, _) => format!("{rest} sslmode='require'"),
    }
}

/// `sslmode` and `sslrootcert`, as found.
#[derive(Default)]
struct Settings {
    mode: Option<String>,
    rootcert: Option<String>,
}

/// The URL form: the query's pieces are kept as written (re-encoding one could change what the
/// driver decodes), except the two taken out.
fn split_url(text: &str) -> Result<(String, Settings), String> {
    let (head, query) = match text.split_once('?') {
        Some((head, query)) => (head, query),
        None => return Ok((text.to_owned(), Settings::default())),
    };
    let mut found = Settings::default();
    let mut kept = Vec::new();
    for piece in query.split('&') {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        match take(&decode(key)?, decode(value)?, &mut found)? {
            Kept::AsWritten => kept.push(piece.to_owned()),
            Kept::Required => kept.push("sslmode=require".to_owned()),
            Kept::Not => {}
        }
    }
    let rest = if kept.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    Ok((rest, found))
}

/// A piece of the query as the driver decodes it (percent escapes; a `+` stays a `+`).
fn decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "a setting of the PostgreSQL URL is not UTF-8".to_owned())
}

/// The `key=value` form: read as libpq does (spaces around `=`, values in single quotes with
/// backslash escapes) and written back with every value quoted.
fn split_pairs(text: &str) -> Result<(String, Settings), String> {
    // Text that is not libpq's pairs goes to the driver as it is, which says what is wrong
    // with it (without repeating it).
    let Some(pairs) = pairs(text) else {
        return Ok((text.to_owned(), Settings::default()));
    };
    let mut found = Settings::default();
    let mut kept = Vec::new();
    for (key, value) in pairs {
        match take(&key, value.clone(), &mut found)? {
            Kept::AsWritten => kept.push((key, value)),
            Kept::Required => kept.push(("sslmode".to_owned(), "require".to_owned())),
            Kept::Not => {}
        }
    }
    let rest = kept
        .iter()
        .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect::<Vec<_>>()
        .join(" ");
    Ok((rest, found))
}

/// What of a setting goes on to the driver.
enum Kept {
    AsWritten,
    /// `sslmode=require`, for a `verify-*` mode the driver does not know.
    Required,
    Not,
}

/// Notes a setting in `found` if it is one of the two read here, and says what the driver
/// gets of it.
fn take(key: &str, value: String, found: &mut Settings) -> Result<Kept, String> {
    match key {
        "sslmode" => {
            let verify = value.starts_with("verify-");
            if verify && !matches!(value.as_str(), "verify-ca" | "verify-full") {
                return Err(
                    "`sslmode` must be disable, prefer, require, verify-ca or verify-full".into(),
                );
            }
            found.mode = Some(value);
            Ok(if verify {
                Kept::Required
            } else {
                Kept::AsWritten
            })
        }
        "sslrootcert" => {
            found.rootcert = Some(value);
            Ok(Kept::Not)
        }
        _ => Ok(Kept::AsWritten),
    }
}

/// libpq's `key = value` pairs; `None` for text that is not (never an error quoting it: it
/// may hold a password).
fn pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// The CAs of `sslrootcert`: a PEM file, or the machine's own (`system`).
fn roots(source: &str) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    if source == "system" {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err("`sslrootcert=system`: no CA certificate found on this machine".into());
        }
        return Ok(store);
    }
    let path = Path::new(source);
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("`sslrootcert` {}: cannot be read ({e})", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| {
            format!(
                "`sslrootcert` {}: not a PEM certificate file ({e})",
                path.display()
            )
        })?;
        store
            .add(cert)
            .map_err(|e| format!("`sslrootcert` {}: {e}", path.display()))?;
    }
    if store.is_empty() {
        return Err(format!(
            "`sslrootcert` {}: holds no certificate",
            path.display()
        ));
    }
    Ok(store)
}

/// The server's certificate checked as [`Check`] says: its chain up to a CA of `sslrootcert`
/// (`chain`), and its name unless `Check::Chain`; or not at all (`sslmode=prefer` and
/// `require` without `sslrootcert`, as libpq). The handshake's signatures are checked in every
/// case, so the server must hold the certificate's key.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        let verified =
            chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verified {
            // rustls checks the name after the chain: a wrong name is the only error of a
            // good chain, which is all `verify-ca` asks.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_keeps_its_other_settings_as_written() {
        let (rest, tls) =
            split("postgres://u:p%40ss@db:5432/mqa?options=-c%20search_path%3Dmqa&sslmode=require")
                .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p%40ss@db:5432/mqa?options=-c%20search_path%3Dmqa&sslmode=require"
        );
        assert_eq!(tls.check, Check::Nothing);
    }

    #[test]
    fn verify_modes_and_the_root_file_are_taken_out_of_a_url() {
        let ca = ca_file();
        let text = format!(
            "postgres://db/mqa?sslmode=verify-full&sslrootcert={}&application_name=relay",
            ca.path().display()
        );
        let (rest, tls) = split(&text).unwrap();
        assert_eq!(
            rest,
            "postgres://db/mqa?sslmode=require&application_name=relay"
        );
        assert_eq!(tls.check, Check::Full);
        let (_, tls) = split(&text.replace("verify-full", "verify-ca")).unwrap();
        assert_eq!(tls.check, Check::Chain);
        let (_, tls) = split(&text.replace("verify-full", "require")).unwrap();
        assert_eq!(
            tls.check,
            Check::Chain,
            "libpq: require with a root file checks the chain"
        );
    }

    #[test]
    fn verify_modes_and_the_root_file_are_taken_out_of_pairs() {
        let ca = ca_file();
        let text = format!(
            "host=db  dbname = mqa password='it\\'s a \\\\ secret' sslmode=verify-ca sslrootcert='{}'",
            ca.path().display()
        );
        let (rest, tls) = split(&text).unwrap();
        assert_eq!(
            rest,
            "host='db' dbname='mqa' password='it\\'s a \\\\ secret' sslmode='require'"
        );
        assert_eq!(tls.check, Check::Chain);
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some("it's a \\ secret".as_bytes()));
    }

    #[test]
    fn the_machines_cas_mean_verify_full_and_refuse_a_weaker_mode() {
        let (rest, tls) = split("postgres://db/mqa?sslrootcert=system").unwrap();
        assert_eq!(rest, "postgres://db/mqa?sslmode=require");
        assert_eq!(tls.check, Check::Full);
        let (rest, tls) = split("host=db sslrootcert=system").unwrap();
        assert_eq!(rest, "host='db' sslmode='require'");
        assert_eq!(tls.check, Check::Full);
        let (_, tls) = split("postgres://db/mqa?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(tls.check, Check::Full);
        for weaker in ["require", "verify-ca", "prefer", "disable"] {
            let text = format!("postgres://db/mqa?sslmode={weaker}&sslrootcert=system");
            let err = split(&text).unwrap_err();
            assert!(
                err.contains("needs `sslmode=verify-full`"),
                "{weaker}: {err}"
            );
        }
    }

    #[test]
    fn an_upper_case_scheme_is_a_url_and_never_repeated() {
        let (rest, _) = split("POSTGRES://relay:pw-7@db/mqa?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://relay:pw-7@db/mqa?sslmode=require");
        let (rest, _) = split("PostgreSQL://db/mqa").unwrap();
        assert_eq!(rest, "postgresql://db/mqa");
    }

    #[test]
    fn a_check_without_a_root_file_or_with_a_bad_one_is_refused() {
        let err = split("postgres://db/mqa?sslmode=verify-full").unwrap_err();
        assert!(err.contains("needs `sslrootcert`"), "{err}");
        let err = split("postgres://db/mqa?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
            .unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
        let err = split("host=db sslmode=verify-everything").unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
        // Not libpq's pairs: left to the driver, which refuses it without repeating it.
        let (rest, _) = split("host=db password='unterminated").unwrap();
        assert_eq!(rest, "host=db password='unterminated");
    }

    /// A PEM file of one CA certificate, removed when dropped.
    fn ca_file() -> tempfile::NamedTempFile {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), ca.cert.pem()).unwrap();
        file
    }
}
