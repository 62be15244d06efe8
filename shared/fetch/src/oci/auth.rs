//! The registry bearer-token challenge: parsing `WWW-Authenticate: Bearer realm=…,service=…,scope=…`.

/// What a registry asked for in its 401 challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parses a Bearer challenge; other schemes (Basic) are refused with a reason.
pub fn parse_challenge(header: &str) -> Result<BearerChallenge, String> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "the registry asks for '{scheme}' authentication; only anonymous bearer tokens are supported"
        ));
    }
    let mut realm = None;
    let mut service = None;
    let mut scope = None;
    for (key, value) in parse_params(params)? {
        match key.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value),
            "service" => service = Some(value),
            "scope" => scope = Some(value),
            _ => {}
        }
    }
    let realm = realm.ok_or("the Bearer challenge has no realm")?;
    Ok(BearerChallenge {
        realm,
        service,
        scope,
    })
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn parse_params(input: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',') {
            key.push(c);
        }
        if chars.next() != Some('=') {
            return Err(format!("malformed challenge parameter '{}'", key.trim()));
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted string in challenge".into()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
        }
        pairs.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_params_with_commas() {
        let challenge = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(challenge.realm, "https://auth.example/token");
        assert_eq!(challenge.service.as_deref(), Some("registry.example"));
        assert_eq!(challenge.scope.as_deref(), Some("repository:a/b:pull,push"));
    }

    #[test]
    fn parses_unquoted_params_and_missing_optional_ones() {
        let challenge = parse_challenge("bearer realm=https://auth.example/t").unwrap();
        assert_eq!(challenge.realm, "https://auth.example/t");
        assert_eq!(challenge.service, None);
    }

    #[test]
    fn refuses_basic_and_broken_challenges() {
        assert!(parse_challenge(r#"Basic realm="x""#)
            .unwrap_err()
            .contains("'Basic'"));
        assert!(parse_challenge(r#"Bearer service="x""#)
            .unwrap_err()
            .contains("no realm"));
        assert!(parse_challenge(r#"Bearer realm="x"#)
            .unwrap_err()
            .contains("unterminated"));
        assert!(parse_challenge("Bearer realm")
            .unwrap_err()
            .contains("malformed"));
    }
}
