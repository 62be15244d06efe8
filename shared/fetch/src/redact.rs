//! Safe renderings of URIs for error messages: no userinfo, query string or fragment ever appears.

use url::Url;

/// `host[:port]` of a URL (IPv6 in brackets), or `?` when it has none.
pub fn host_label(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A URI as typed, cut before any query or fragment and without `user:password@`.
pub fn redact_uri(raw: &str) -> String {
    let cut = raw.find(['?', '#']).map_or(raw, |end| &raw[..end]);
    let Some(scheme_end) = cut.find("://") else {
        return cut.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &cut[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &cut[..authority_start], &rest[at + 1..]),
        None => cut.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials_query_and_fragment() {
        assert_eq!(
            redact_uri("https://user:secret@host.example:8443/a/b?token=abc#frag"),
            "https://host.example:8443/a/b"
        );
        assert_eq!(redact_uri("oci://reg/repo:tag#title"), "oci://reg/repo:tag");
        assert_eq!(redact_uri("no scheme?x=1"), "no scheme");
        assert_eq!(redact_uri("https://host/p@th"), "https://host/p@th");
    }

    #[test]
    fn labels_hosts_with_explicit_ports_only() {
        let url = Url::parse("https://u:p@example.com:8443/x?q=1").unwrap();
        assert_eq!(host_label(&url), "example.com:8443");
        let url = Url::parse("https://[::1]/x").unwrap();
        assert_eq!(host_label(&url), "[::1]");
    }
}
